// One request's page, in the order an officer reads it: what is asked (an audited read), who
// sent it and how to call them back, what they can do now (danger actions confirmed, with
// their reason), the escalation chain, the thread and files, who was alerted, the history.
// A push refreshes metadata only (the state without content, the chain, the files' list, who
// was alerted): a content read is audited as this person's, so new messages, and a history
// whose reasons are shown, are offered with a button; never read because an event arrived.

import { alerts } from "./alerts.js";
import { loadAlerted } from "./alerted.js";
import { ApiError, allPages, api, attempt, clearProblemAt, showProblem, showProblemAt } from "./api.js";
import { countdown, drillBadge, el, me, time, tlpBadge, words } from "./dom.js";
import { ENDS_UNANSWERED, RECEIVE_FROM, REASON_REQUIRED } from "./lifecycle.js";
import { LiveFeed, showConnection } from "./live.js";
import { named } from "./named.js";
import { holder } from "./people.js";
import { loadMatches } from "./request-matches.js";
import { chasedDesk, currentWhom, loadChain, thenText } from "./request-chain.js";
import { renderHandover } from "./request-handover.js";
import { hideThread, holdsRed, loadFiles, loadMessages, setSpoken, showForms, showsMessage, startThread } from "./request-thread.js";

const requestId = document.getElementById("request").dataset.requestId;
// `receive` is the screen's own confirmation, sent by the socket, never a button.
const HIDDEN_ACTIONS = new Set(["receive"]);
const ACTION_LABELS = {
  acknowledge: "Acknowledge",
  start: "Start work",
  request_info: "Ask for information",
  provide_info: "Information provided",
  respond: "Mark responded",
  decline: "Decline",
  close: "Close",
  cancel: "Cancel request",
  reopen: "Reopen",
};
// The serious ones (ENDS_UNANSWERED): they end the request for both sides.
const DANGER = ENDS_UNANSWERED;
const CONFIRM = {
  decline: { question: "Decline this request? It ends here for both sides; the requester is told why.", label: "Why you decline (the requester reads it)", button: "Decline the request" },
  cancel: { question: "Cancel this request? It ends here for both sides; the desk is told why.", label: "Why you cancel (the desk reads it)", button: "Cancel the request" },
  request_info: { question: "Ask the requester for information: the response clock pauses until they answer.", label: "Your question", button: "Send the question" },
  provide_info: { question: "Answer the desk's question.", label: "Your answer", button: "Send the answer" },
  reopen: { question: "Reopen this request?", label: "Why you reopen it", button: "Reopen" },
};
let current = null;
let contentRead = false; // the reader's last content read showed the content
let history = [];
let pending = null; // the action waiting for its confirmation
let feed;

function term(label, ...value) {
  return [el("dt", {}, label), el("dd", {}, ...value)];
}

function deadline(due, since) {
  if (!due) return "—";
  const { text, level } = countdown(due, since);
  return el("span", { class: "deadline", dataset: { due, since: since ?? "", level } }, text);
}

// Who has it: the person holding it, or the desk being chased (the NCB, the global desk).
function heldBy(request) {
  const desk = !request.assigned_to && chasedDesk();
  if (desk) return el("span", { id: "held-by", class: "chased" }, `${desk} (escalated: being chased now)`);
  return el("span", { id: "held-by" }, holder(request, { you: "you", someone: "another contact point" }));
}

function renderMeta(request) {
  document.getElementById("request-title").replaceChildren(
    ...drillBadge(request),
    request.drill_id
      ? `Readiness drill of the ${request.target_country} desk: acknowledge it, nothing else`
      : `${words(request.priority)} ${words(request.type)} request from ${request.requesting_country} to ${request.target_country}`,
  );
  document.getElementById("request-meta").replaceChildren(
    ...(request.headline
      ? term("Headline", el("span", { id: "request-headline" }, request.headline), el("span", { class: "help" }, " (metadata: not protected as content)"))
      : []),
    ...term("Status", el("span", { id: "request-status" }, words(request.status))),
    ...term("Priority", words(request.priority)),
    ...term("Handling", tlpBadge(request.handling_code), " ", (request.onward_use ?? []).join(", "), request.handling_note ? ` (${request.handling_note})` : ""),
    ...term("Submitted", time(request.created_at)),
    // Four-eyes: the target sees it was approved before it was sent, and by which role.
    ...(request.approved_at
      ? term("Approved", el("span", { id: "request-approved" }, `by a second officer (${words(request.approved_by_role)}) at `, time(request.approved_at)))
      : []),
    ...term("Held by", heldBy(request)),
    ...term("Acknowledged", request.acknowledged_at ? time(request.acknowledged_at) : "not yet"),
    ...term("Content hash", el("code", {}, request.content_hash)),
  );
  const then = thenText();
  document.getElementById("deadlines").replaceChildren(
    ...term("Acknowledge by", request.acknowledged_at ? "acknowledged" : [deadline(request.ack_due_at, request.assigned_at), then ? el("span", { id: "then", class: "then" }, ` · ${then}`) : ""]),
    ...term("Respond by", request.responded_at ? "responded" : request.response_paused_at ? "paused: waiting for the requester" : deadline(request.response_due_at, request.created_at)),
    ...term("Escalation", el("span", { id: "escalation-state" }, request.overdue_at ? `overdue since ${new Date(request.overdue_at).toLocaleString()}` : request.escalation_step > 0 ? `escalated to step ${request.escalation_step + 1}: ${currentWhom()}` : "not escalated")),
  );
}

function renderContent(request) {
  const content = request.content;
  document.getElementById("content").replaceChildren(
    content
      ? el(
          "div",
          {},
          el("h3", {}, content.subject),
          el("p", { class: "details" }, content.details),
          el("h4", {}, "Identifiers"),
          el("ul", { class: "plain" }, ...content.identifiers.map((item) => el("li", {}, el("span", { class: "kind" }, words(item.kind)), " ", el("code", {}, item.value)))),
          el("h4", {}, "Legal basis"),
          el("p", {}, content.legal_basis),
        )
      : el("p", { class: "empty" }, request.purged_at ? "The content was purged at the end of its retention." : "Its handling code does not let you read the content."),
  );
}

function renderRequester({ requester }) {
  const sender = requester.sender;
  document.getElementById("requester").replaceChildren(
    ...term("Agency", `${requester.agency_name} (${requester.country_name}, ${requester.country})`),
    ...term("Sent by", named(sender, { you: "you" }), sender.phone ? [" · ", el("a", { href: `tel:${sender.phone}` }, sender.phone)] : ""),
    ...term("Call back", requester.desk_phone ? [`${requester.country} 24/7 desk: `, el("a", { href: `tel:${requester.desk_phone}`, id: "desk-phone" }, requester.desk_phone)] : el("span", { class: "muted" }, "no desk phone you may see")),
  );
}

function renderActions(request) {
  const actions = (request.allowed_actions ?? []).filter((action) => !HIDDEN_ACTIONS.has(action));
  document.getElementById("action-buttons").replaceChildren(
    ...actions.map((action) =>
      el("button", { type: "button", class: DANGER.has(action) ? "danger" : null, dataset: { action }, onclick: () => choose(action) }, ACTION_LABELS[action] ?? words(action)),
    ),
  );
  if (pending && !actions.includes(pending)) closeConfirm();
  document.getElementById("actions-title").textContent = actions.length ? "What you can do now" : "Nothing for you to do on this request now";
}

function renderRequest(request, { withContent }) {
  current = request;
  renderMeta(request);
  if (withContent) renderContent(request);
  else if (request.purged_at) renderContent(request);
  renderRequester(request);
  renderActions(request);
  showForms(request);
  renderHandover(request, refreshAfterChange);
  if (RECEIVE_FROM.has(request.status) && request.target_country === me.country) feed?.confirmShown(request.id);
}

const actionForm = document.getElementById("action-form");

function closeConfirm() {
  pending = null;
  document.getElementById("action-confirm").hidden = true;
  document.getElementById("action-reason").value = "";
  clearProblemAt(actionForm);
}

// An action with a reason, or one that ends the request, is confirmed first, right here.
function choose(action) {
  clearProblemAt(actionForm);
  if (!REASON_REQUIRED.has(action) && !DANGER.has(action)) {
    act(action, null);
    return;
  }
  pending = action;
  const wording = CONFIRM[action] ?? { question: `${ACTION_LABELS[action]}?`, label: "Reason", button: "Confirm" };
  document.getElementById("action-confirm-question").textContent = wording.question;
  document.getElementById("action-reason-label").textContent = wording.label;
  const button = document.getElementById("action-confirm-button");
  button.textContent = wording.button;
  button.className = DANGER.has(action) ? "danger" : "";
  const reason = document.getElementById("action-reason");
  reason.required = REASON_REQUIRED.has(action);
  document.getElementById("action-confirm").hidden = false;
  reason.focus();
}

async function act(action, reason) {
  await attempt(actionForm, async () => {
    await api(`/v1/requests/${requestId}/actions/${action}`, { method: "POST", json: reason ? { reason } : {} });
    closeConfirm();
    await refreshAfterChange();
  });
}

actionForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const box = document.getElementById("action-reason");
  const reason = box.value.trim();
  if (REASON_REQUIRED.has(pending) && !reason) {
    const detail = `Say why you ${words(pending)}: the reason is kept in the history.`;
    showProblemAt(actionForm, new ApiError(422, { detail, errors: [{ loc: ["body", "reason"], msg: "required" }] }));
    box.focus();
    return;
  }
  act(pending, reason || null);
});
document.getElementById("action-confirm-back").addEventListener("click", closeConfirm);

function renderHistory() {
  document.getElementById("history").replaceChildren(
    ...history.map((step) =>
      el(
        "li",
        {},
        time(step.at),
        " ",
        el("strong", {}, step.action ? words(step.action) : "submitted"),
        step.action !== null || step.actor ? [" by ", el("span", { class: "actor" }, step.actor ? named(step.actor, { you: "you" }) : "the service")] : "",
        step.from_status ? ` (${words(step.from_status)} → ${words(step.to_status)})` : "",
        step.reason ? `: ${step.reason}` : "",
      ),
    ),
  );
  setSpoken(history);
}

// `content`: read the content (an audited read), else the metadata alone (GET ?content=false:
// no content read, nothing audited), leaving the content shown as it is.
async function loadRequest({ content = true } = {}) {
  const request = await api(`/v1/requests/${requestId}${content ? "" : "?content=false"}`);
  await loadChain(requestId).catch((error) => showProblemAt(document.getElementById("chain").closest("section"), error));
  renderRequest(request, { withContent: content });
  if (content) {
    document.getElementById("content-offer")?.remove();
    contentRead = Boolean(request.content);
    await loadMatches(requestId, { readable: contentRead });
  }
}
// The whole history once; then only the steps after the last shown (a step's reason is
// content: it is not read, nor audited, twice).
let reasonsShown = false;
async function loadHistory({ fresh = false } = {}) {
  const last = history.length ? history[history.length - 1].id : null;
  if (fresh || last === null) history = await allPages(`/v1/requests/${requestId}/history`);
  else history = [...history, ...(await allPages(`/v1/requests/${requestId}/history`, { after_id: last }))];
  document.getElementById("history-offer")?.remove();
  reasonsShown = history.some((step) => step.reason !== null && step.reason !== undefined);
  renderHistory();
}

// After the reader's own action: what changed is the state and the history's newest steps,
// which their own action wrote.
async function refreshAfterChange() {
  await Promise.all([loadRequest({ content: false }), loadHistory()]);
}

async function guarded(load) {
  try {
    await load();
  } catch (error) {
    showProblem(error);
  }
}

// A content read offered, not made: a button before the list, which reads on a click.
function offer(listId, label, load) {
  const id = `${listId}-offer`;
  if (document.getElementById(id)) return;
  const button = el("button", { type: "button", id, class: "secondary offer", onclick: async () => {
    button.remove();
    await guarded(load);
  } }, label);
  document.getElementById(listId).before(button);
}

// A change of holder can change who reads TLP:RED content: a page left open by the previous
// holder must not keep showing it (the content, the thread's texts, the files' names).
const HOLDER_CHANGES = new Set(["request.assigned", "request.escalated"]);

function shownRed() {
  return current?.handling_code === "RED" || holdsRed();
}

function withdrawContent() {
  document.getElementById("content").replaceChildren(el("p", { class: "empty" }, "The request changed hands: what you may read of it may have changed."));
  hideThread("The request changed hands: the thread is hidden until you show it again.");
  offer("content", "Show the content again (recorded in the audit trail)", () => loadRequest());
  offer("messages", "Show the thread again (recorded in the audit trail)", () => loadMessages({ fresh: true }));
}

function onEvent(frame) {
  alerts.hear(frame);
  if (frame.data?.request_id !== requestId || frame.event.startsWith("approval.")) return;
  if (frame.event === "request.matched") {
    // Its sender is told of new shared data; showing it is an audited read: on a click.
    offer("shared-summary", "New shared data matches this request: show it (recorded in the audit trail)", () =>
      loadMatches(requestId, { readable: contentRead }),
    );
    document.getElementById("shared-section").hidden = false;
  } else if (frame.event.startsWith("message.")) {
    if (!showsMessage(frame.data.message_id)) offer("messages", "New messages: show them (recorded in the audit trail)", () => loadMessages());
  } else if (frame.event.startsWith("file.")) guarded(loadFiles);
  else {
    // The reader's own action was shown with its history when it was taken.
    const seen = current && frame.data.version !== undefined && frame.data.version <= current.version;
    if (HOLDER_CHANGES.has(frame.event) && shownRed()) withdrawContent();
    guarded(async () => Promise.all([loadRequest({ content: false }), loadFiles()]));
    // The history's reasons are content: its new steps are read at once only while none is
    // shown (and then without the ones shown: `after_id`).
    if (!seen && reasonsShown) offer("history", "New steps: show the history (recorded in the audit trail)", () => loadHistory());
    else if (!seen) guarded(() => loadHistory());
  }
  if (frame.event.startsWith("request.")) loadAlerted(requestId); // an event may alert someone
}

// A request still held for four-eyes approval is no request yet: an alert's link to it opens
// the approvals page, for who may see held requests (its sending agency's units, its NCB).
const SEE_HELD = new Set(["unit", "ncb"]);
async function heldForApproval(error) {
  if (!(error instanceof ApiError) || error.status !== 404 || !SEE_HELD.has(me.role)) return false;
  window.location.replace(`/web/approvals?id=${encodeURIComponent(requestId)}`);
  return true;
}

async function onStart() {
  try {
    await loadRequest();
  } catch (error) {
    if (!(await heldForApproval(error))) showProblem(error);
    return;
  }
  await guarded(async () => {
    // Once, when the socket's heads are known: whatever changes later is pushed.
    await Promise.all([loadMessages(), loadFiles(), loadHistory(), loadAlerted(requestId)]);
    document.body.dataset.loaded = "true";
  });
}

startThread(requestId);
setInterval(() => {
  for (const node of document.querySelectorAll("span.deadline")) {
    const { text, level } = countdown(node.dataset.due, node.dataset.since || null);
    node.textContent = text;
    node.dataset.level = level;
  }
}, 1000);
// Sending happens after the event: how an alert ended is read again on demand.
document.getElementById("alerted-refresh").addEventListener("click", () => loadAlerted(requestId));
feed = new LiveFeed({ onStart, onEvent, onStatus: showConnection });
feed.start();
