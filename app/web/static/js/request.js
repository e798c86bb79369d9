// One request's page: its content (an audited read), thread, files, history, deadlines and
// the actions the lifecycle allows this person now, kept current by the socket's events.

import { alerts } from "./alerts.js";
import { loadAlerted } from "./alerted.js";
import { ApiError, allPages, api, attempt, showProblem, showProblemAt } from "./api.js";
import { countdown, el, me, time, tlpBadge, words } from "./dom.js";
import { OPEN, RECEIVE_FROM, REASON_REQUIRED } from "./lifecycle.js";
import { LiveFeed, showConnection } from "./live.js";
import { holder } from "./people.js";

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
let current = null;
let feed;

function term(label, ...value) {
  return [el("dt", {}, label), el("dd", {}, ...value)];
}

function deadline(due, since) {
  if (!due) return "—";
  const { text, level } = countdown(due, since);
  return el("span", { class: "deadline", dataset: { due, since: since ?? "", level } }, text);
}

// `metadata`: an answer of GET ?content=false, which leaves the content shown as it is.
function renderRequest(request, { metadata = false } = {}) {
  current = request;
  document.getElementById("request-title").textContent =
    `${words(request.priority)} ${words(request.type)} request from ${request.requesting_country} to ${request.target_country}`;
  document.getElementById("request-meta").replaceChildren(
    ...term("Status", el("span", { id: "request-status" }, words(request.status))),
    ...term("Priority", words(request.priority)),
    ...term("Handling", tlpBadge(request.handling_code), " ", (request.onward_use ?? []).join(", "), request.handling_note ? ` (${request.handling_note})` : ""),
    ...term("Submitted", time(request.created_at)),
    ...term("Held by", holder(request, { you: "you", someone: "another contact point" })),
    ...term("Acknowledged", request.acknowledged_at ? time(request.acknowledged_at) : "not yet"),
    ...term("Content hash", el("code", {}, request.content_hash)),
  );
  document.getElementById("deadlines").replaceChildren(
    ...term("Acknowledge by", request.acknowledged_at ? "acknowledged" : deadline(request.ack_due_at, request.assigned_at)),
    ...term("Respond by", request.responded_at ? "responded" : request.response_paused_at ? "paused: waiting for the requester" : deadline(request.response_due_at, request.created_at)),
    ...term("Escalation", el("span", { id: "escalation-state" }, request.overdue_at ? `overdue since ${new Date(request.overdue_at).toLocaleString()}` : request.escalation_step > 0 ? `escalated to step ${request.escalation_step + 1}` : "not escalated")),
  );
  document.getElementById("escalations").replaceChildren(
    ...(request.escalations ?? []).map((step) =>
      el("li", {}, time(step.at), ` moved on to step ${step.step + 1}: ${words(step.target)}`),
    ),
  );
  const content = request.content;
  if (!metadata) document.getElementById("content").replaceChildren(
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
  // A final or purged request takes no more messages nor files (the service would refuse):
  // their forms go.
  const exchangeOpen = OPEN.includes(request.status) && !request.purged_at;
  document.getElementById("message-form").hidden = !exchangeOpen;
  document.getElementById("file-form").hidden = !exchangeOpen;
  const actions = (request.allowed_actions ?? []).filter((action) => !HIDDEN_ACTIONS.has(action));
  document.getElementById("action-buttons").replaceChildren(
    ...actions.map((action) =>
      el("button", { type: "button", dataset: { action }, onclick: () => act(action) }, ACTION_LABELS[action] ?? words(action)),
    ),
  );
  document.getElementById("action-form").hidden = actions.length === 0;
  if (!actions.length) document.getElementById("actions-title").textContent = "Nothing for you to do on this request now";
  else document.getElementById("actions-title").textContent = "What you can do now";
  if (RECEIVE_FROM.has(request.status) && request.target_country === me.country) feed?.confirmShown(request.id);
}

async function act(action) {
  const form = document.getElementById("action-form");
  const reasonBox = document.getElementById("action-reason");
  const reason = reasonBox.value.trim();
  if (REASON_REQUIRED.has(action) && !reason) {
    const detail = `Say why you ${words(action)}: the reason is kept in the history.`;
    showProblemAt(form, new ApiError(422, { detail, errors: [{ loc: ["body", "reason"], msg: "required" }] }));
    reasonBox.focus();
    return;
  }
  await attempt(form, async () => {
    await api(`/v1/requests/${requestId}/actions/${action}`, { method: "POST", json: reason ? { reason } : {} });
    reasonBox.value = "";
    await Promise.all([loadRequest(), loadHistory()]);
  });
}

function renderMessages(messages) {
  document.getElementById("messages").replaceChildren(
    ...messages.map((message) =>
      el(
        "li",
        { class: `message side-${message.side}` },
        el("p", { class: "byline" }, message.author_principal_id === me.principalId ? "You" : message.side === "target" ? "Target desk" : "Requester", " · ", time(message.created_at), " ", tlpBadge(message.handling_code)),
        message.text !== null ? el("p", { class: "text" }, message.text) : el("p", { class: "empty" }, `withheld (${words(message.withheld)})`),
      ),
    ),
  );
  if (!messages.length) document.getElementById("messages").append(el("li", { class: "empty" }, "No messages yet."));
}

function renderFiles(files) {
  document.getElementById("files").replaceChildren(
    ...files.map((file) =>
      el(
        "li",
        {},
        file.name && !file.purged_at ? el("a", { href: `/v1/files/${file.id}/content`, download: file.name }, file.name) : el("span", { class: "empty" }, file.purged_at ? "purged file" : "file (name withheld)"),
        ` · ${file.content_type} · ${file.size.toLocaleString()} bytes · `,
        tlpBadge(file.handling_code),
        " · SHA-256 ",
        el("code", {}, file.sha256.slice(0, 16) + "…"),
      ),
    ),
  );
  if (!files.length) document.getElementById("files").append(el("li", { class: "empty" }, "No files yet."));
}

function renderHistory(steps) {
  document.getElementById("history").replaceChildren(
    ...steps.map((step) =>
      el("li", {}, time(step.at), " ", step.action ? words(step.action) : "submitted", step.from_status ? ` (${words(step.from_status)} → ${words(step.to_status)})` : "", step.reason ? `: ${step.reason}` : ""),
    ),
  );
}

async function loadRequest() {
  renderRequest(await api(`/v1/requests/${requestId}`));
  document.getElementById("content-offer")?.remove();
}
// The request's state without its content: no content read, nothing audited.
async function loadState() {
  renderRequest(await api(`/v1/requests/${requestId}?content=false`), { metadata: true });
}
const shownMessages = new Set();
async function loadMessages() {
  const messages = await allPages(`/v1/requests/${requestId}/messages`);
  document.getElementById("messages-offer")?.remove();
  for (const message of messages) shownMessages.add(message.id);
  renderMessages(messages);
}
async function loadFiles() {
  renderFiles(await allPages(`/v1/requests/${requestId}/files`));
}
let reasonsShown = false;
async function loadHistory() {
  const steps = await allPages(`/v1/requests/${requestId}/history`);
  document.getElementById("history-offer")?.remove();
  reasonsShown = steps.some((step) => step.reason !== null && step.reason !== undefined);
  renderHistory(steps);
}

async function guarded(load) {
  try {
    await load();
  } catch (error) {
    showProblem(error);
  }
}

document.getElementById("message-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("message-text");
  await attempt(document.getElementById("message-form"), async () => {
    await api(`/v1/requests/${requestId}/messages`, { method: "POST", json: { text: box.value } });
    box.value = "";
    await loadMessages();
  });
});

document.getElementById("file-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("file-input");
  const file = input.files[0];
  if (!file) return;
  await attempt(document.getElementById("file-form"), async () => {
    // The name in a header, not the query: a name is content, and a query is written to
    // access logs (RFC 6266 / RFC 8187; ' ( ) * ! are not attr-chars, so they are escaped too).
    const encoded = encodeURIComponent(file.name).replace(
      /['()*!]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
    await api(`/v1/requests/${requestId}/files`, {
      method: "POST",
      body: file,
      headers: {
        "Content-Type": file.type || "application/octet-stream",
        "Content-Disposition": `attachment; filename*=UTF-8''${encoded}`,
      },
    });
    input.value = "";
    await loadFiles();
  });
});

// A change of holder can change who reads TLP:RED content: a page left open by the previous
// holder must not keep showing it (the content, the thread's texts, the files' names).
const HOLDER_CHANGES = new Set(["request.assigned", "request.escalated"]);

// What a push refetches is metadata only (the state without content, the files' list, who was
// alerted): a content read (the request's content, the thread's texts, the history's reasons)
// is audited as this person's, so it happens only when they ask for it, by a button here, or
// by an action of theirs; never because an event arrived while they were away from the screen.
function offer(listId, label, load) {
  const list = document.getElementById(listId);
  const id = `${listId}-offer`;
  if (document.getElementById(id)) return;
  const button = el("button", { type: "button", id, class: "secondary offer", onclick: async () => {
    button.remove();
    await guarded(load);
    document.getElementById(listId).focus?.();
  } }, label);
  list.before(button);
}

function shownRed() {
  return current?.handling_code === "RED" || document.querySelector("#messages .tlp-red, #files .tlp-red") !== null;
}

function withdrawContent() {
  document.getElementById("content").replaceChildren(el("p", { class: "empty" }, "The request changed hands: what you may read of it may have changed."));
  document.getElementById("messages").replaceChildren(el("li", { class: "empty" }, "The request changed hands: the thread is hidden until you show it again."));
  offer("content", "Show the content again (recorded in the audit trail)", loadRequest);
  offer("messages", "Show the thread again (recorded in the audit trail)", loadMessages);
}

function onEvent(frame) {
  alerts.hear(frame);
  if (frame.data?.request_id !== requestId) return;
  if (frame.event.startsWith("message.")) {
    if (!shownMessages.has(frame.data.message_id)) offer("messages", "New messages: show them (recorded in the audit trail)", loadMessages);
  } else if (frame.event.startsWith("file.")) guarded(loadFiles);
  else {
    if (HOLDER_CHANGES.has(frame.event) && shownRed()) withdrawContent();
    guarded(async () => Promise.all([loadState(), loadFiles()]));
    // The history's reasons are content: read again only when none is shown yet.
    if (reasonsShown) offer("history", "New steps: show the history (recorded in the audit trail)", loadHistory);
    else guarded(loadHistory);
  }
  if (frame.event.startsWith("request.")) loadAlerted(requestId); // an event may alert someone
}

async function onStart() {
  await guarded(async () => {
    await Promise.all([loadRequest(), loadMessages(), loadFiles(), loadHistory(), loadAlerted(requestId)]);
    document.body.dataset.loaded = "true";
  });
}

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
