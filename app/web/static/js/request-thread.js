// A request's thread and files: messages with their author (named as the service lets this
// reader know them), handling and evaluation codes; the questions and answers of `request_info`
// and `provide_info` (reasons in the history) in their place among them; and the forms to
// write and upload, each with its own TLP chooser, shown only where they can succeed.

import { allPages, api, attempt } from "./api.js";
import { el, time, tlpBadge, words } from "./dom.js";
import { namedAt } from "./named.js";

// TLP 2.0 from the loosest: an item may be stricter than its request, never looser.
const TLP_ORDER = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"];
const SPOKEN = { request_info: "Question", provide_info: "Answer" };
const RELIABILITY = { A: "no doubt", B: "mostly reliable", C: "mostly unreliable", X: "cannot be judged" };
const ACCURACY = { 1: "known to be true", 2: "known to the source", 3: "corroborated", 4: "cannot be judged" };

let requestId = null;
let messages = [];
let spoken = []; // history steps that say something in the thread
let files = [];

export function startThread(id) {
  requestId = id;
}

// The choices of a TLP select: the request's code (the default, as the service's) and stricter.
export function offerHandling(select, requestCode) {
  const from = Math.max(TLP_ORDER.indexOf(requestCode), 0);
  const kept = select.value;
  const codes = TLP_ORDER.slice(from);
  select.replaceChildren(
    ...codes.map((code) =>
      el("option", { value: code, selected: code === (codes.includes(kept) ? kept : requestCode) }, code === requestCode ? `TLP:${code} (the request's)` : `TLP:${code}`),
    ),
  );
}

export function showForms(request) {
  const open = Boolean(request.may_take_part);
  document.getElementById("message-form").hidden = !open;
  document.getElementById("file-form").hidden = !open;
  if (open) {
    offerHandling(document.getElementById("message-tlp"), request.handling_code);
    offerHandling(document.getElementById("file-tlp"), request.handling_code);
  }
}

function evaluation(message) {
  if (!message.source_reliability && !message.information_accuracy) return "";
  const parts = [];
  if (message.source_reliability) parts.push(`source ${message.source_reliability} (${RELIABILITY[message.source_reliability]})`);
  if (message.information_accuracy) parts.push(`information ${message.information_accuracy} (${ACCURACY[message.information_accuracy]})`);
  return el("span", { class: "evaluation", title: "4x4 evaluation: source reliability and information accuracy" }, `Evaluated: ${parts.join(", ")}`);
}

function messageItem(message) {
  return el(
    "li",
    { class: `message side-${message.side}`, id: `message-${message.seq}`, dataset: { handling: message.handling_code } },
    el("p", { class: "byline" }, el("span", { class: "author" }, namedAt(message.author, { you: "You" })), " · ", time(message.created_at), " ", tlpBadge(message.handling_code)),
    message.text !== null ? el("p", { class: "text" }, message.text) : el("p", { class: "empty" }, `withheld (${words(message.withheld)})`),
    evaluation(message),
  );
}

function spokenItem(step) {
  return el(
    "li",
    { class: `message spoken side-${step.side} action-${step.action}`, dataset: { action: step.action } },
    el("p", { class: "byline" }, el("strong", {}, SPOKEN[step.action]), " from ", el("span", { class: "author" }, namedAt(step.actor, { you: "you" })), " · ", time(step.at)),
    step.reason !== null ? el("p", { class: "text" }, step.reason) : el("p", { class: "empty" }, step.has_reason ? "withheld by its handling code" : "no words given"),
  );
}

function renderThread() {
  const items = [
    ...messages.map((message) => ({ at: Date.parse(message.created_at), node: () => messageItem(message) })),
    ...spoken.map((step) => ({ at: Date.parse(step.at), node: () => spokenItem(step) })),
  ].sort((a, b) => a.at - b.at);
  const list = document.getElementById("messages");
  list.replaceChildren(...items.map((item) => item.node()));
  if (!items.length) list.append(el("li", { class: "empty" }, "No messages yet."));
}

// The history's steps that speak in the thread (the caller passes every step it has).
export function setSpoken(steps) {
  spoken = steps.filter((step) => step.action in SPOKEN);
  renderThread();
}

// The whole thread (`fresh`: what the reader may read may have changed), or only what came
// after the last message shown: showing new messages does not re-read (and re-audit) the
// others.
export async function loadMessages({ fresh = false } = {}) {
  const last = messages.length ? messages[messages.length - 1].seq : null;
  if (fresh || last === null) messages = await allPages(`/v1/requests/${requestId}/messages`);
  else messages = [...messages, ...(await allPages(`/v1/requests/${requestId}/messages`, { after_seq: last }))];
  document.getElementById("messages-offer")?.remove();
  renderThread();
}

export function showsMessage(messageId) {
  return messages.some((message) => message.id === messageId);
}

// The thread's texts leave the screen (the request changed hands): shown again on demand.
export function hideThread(note) {
  messages = [];
  document.getElementById("messages").replaceChildren(el("li", { class: "empty" }, note));
}

export function holdsRed() {
  return [...messages, ...files].some((item) => item.handling_code === "RED");
}

export async function loadFiles() {
  files = await allPages(`/v1/requests/${requestId}/files`);
  const list = document.getElementById("files");
  list.replaceChildren(
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
  if (!files.length) list.append(el("li", { class: "empty" }, "No files yet."));
}

document.getElementById("message-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("message-text");
  const reliability = document.getElementById("message-reliability");
  const accuracy = document.getElementById("message-accuracy");
  const json = { text: box.value, handling_code: document.getElementById("message-tlp").value };
  if (reliability.value) json.source_reliability = reliability.value;
  if (accuracy.value) json.information_accuracy = Number(accuracy.value);
  await attempt(event.target, async () => {
    await api(`/v1/requests/${requestId}/messages`, { method: "POST", json });
    box.value = "";
    reliability.value = "";
    accuracy.value = "";
    await loadMessages();
  });
});

document.getElementById("file-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("file-input");
  const file = input.files[0];
  if (!file) return;
  await attempt(event.target, async () => {
    // The name in a header, not the query: a name is content, and a query is written to
    // access logs (RFC 6266 / RFC 8187; ' ( ) * ! are not attr-chars, so they are escaped too).
    const encoded = encodeURIComponent(file.name).replace(
      /['()*!]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
    // The handling code is no content: it may ride in the query, as the API takes it.
    const handling = encodeURIComponent(document.getElementById("file-tlp").value);
    await api(`/v1/requests/${requestId}/files?handling_code=${handling}`, {
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
