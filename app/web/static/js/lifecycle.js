// The request lifecycle as the server declares it (app/requests/lifecycle.py), which each page
// carries as JSON (app/web/pages.py): the scripts never restate the table.

const declared = JSON.parse(document.getElementById("lifecycle").textContent);

// Not final: what a queue lists and asks GET /v1/requests for.
export const OPEN = declared.open;
// Actions that must say why: asked for before the action is even sent.
export const REASON_REQUIRED = new Set(declared.reason_required);
// The states a request may be acknowledged in: it waits for a person of the target desk.
export const ACKNOWLEDGE_FROM = new Set(declared.acknowledge_from);
// The states in which a screen of the target side showing the request confirms it received.
export const RECEIVE_FROM = new Set(declared.receive_from);
// The actions that end a request without an answer (decline, cancel): asked twice.
export const ENDS_UNANSWERED = new Set(declared.ends_unanswered);
