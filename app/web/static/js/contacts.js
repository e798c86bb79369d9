// The signed-in person's contact methods (GET/POST/DELETE /v1/me/contact-methods): the list,
// adding an e-mail address or this browser (Web Push through the service worker), entering a
// verification code. Each form shows the service's refusal next to itself.

import { api, clearProblem, showProblem } from "./api.js";
import { el, words } from "./dom.js";
import { watchForWork } from "./alerts.js";
import { SCOPE } from "./worker-client.js";

const METHODS = "/v1/me/contact-methods";
const box = (id) => document.getElementById(id);

function isVerified(method) {
  return Boolean(method.verified);
}

// A push endpoint is a long URL of the browser's push service: name its host only.
function address(method, mine) {
  if (method.kind !== "web_push") return method.address;
  if (method.address === mine) return "this browser";
  try {
    return `a browser (${new URL(method.address).host})`;
  } catch {
    return "a browser";
  }
}

async function currentEndpoint() {
  if (!("serviceWorker" in navigator)) return null;
  const registration = await navigator.serviceWorker.getRegistration(SCOPE);
  const subscription = await registration?.pushManager.getSubscription();
  return subscription?.endpoint ?? null;
}

function row(method, mine) {
  return el(
    "tr",
    { id: `contact-${method.id}`, dataset: { kind: method.kind, verified: String(isVerified(method)) } },
    el("td", { dataset: { label: "Kind" } }, words(method.kind)),
    el("td", { dataset: { label: "Address" } }, address(method, mine)),
    el("td", { dataset: { label: "State" } }, isVerified(method) ? "Verified" : "Waiting for its code"),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => remove(method) }, "Delete")),
  );
}

async function load() {
  const problem = box("contacts-problem");
  try {
    const [answer, mine] = await Promise.all([api(METHODS), currentEndpoint()]);
    const methods = answer.items ?? answer;
    box("contact-rows").replaceChildren(...methods.map((method) => row(method, mine)));
    box("contacts-empty").hidden = methods.length > 0;
    const waiting = methods.filter((method) => !isVerified(method));
    box("verify-form").closest("section").hidden = waiting.length === 0;
    box("verify-method").replaceChildren(
      ...waiting.map((method) => el("option", { value: method.id }, `${words(method.kind)}: ${address(method, mine)}`)),
    );
    clearProblem(problem);
  } catch (error) {
    showProblem(error, problem);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

async function remove(method) {
  const problem = box("contacts-problem");
  try {
    await api(`${METHODS}/${method.id}`, { method: "DELETE" });
    if (method.kind === "web_push") {
      const registration = await navigator.serviceWorker.getRegistration(SCOPE);
      const subscription = await registration?.pushManager.getSubscription();
      if (subscription?.endpoint === method.address) await subscription.unsubscribe();
    }
    await load();
  } catch (error) {
    showProblem(error, problem);
  }
}

// A form's submission, with its refusal shown in its own problem box.
function handle(formOrButton, problemId, work) {
  const event = formOrButton.tagName === "FORM" ? "submit" : "click";
  formOrButton.addEventListener(event, async (submitted) => {
    submitted.preventDefault();
    const problem = box(problemId);
    clearProblem(problem);
    try {
      await work();
      await load();
    } catch (error) {
      showProblem(error, problem);
    }
  });
}

handle(box("email-form"), "email-problem", async () => {
  await api(METHODS, { method: "POST", json: { kind: "email", address: box("email-address").value.trim() } });
  box("email-address").value = "";
});

handle(box("verify-form"), "verify-problem", async () => {
  const id = box("verify-method").value;
  if (!id) throw new Error("Nothing waits for a code: add a method first.");
  await api(`${METHODS}/${id}/verify`, { method: "POST", json: { code: box("verify-code").value.trim() } });
  box("verify-code").value = "";
});

// The VAPID key comes as base64url (RFC 8292); subscribe() wants its bytes.
function bytes(base64url) {
  const base64 = base64url.replaceAll("-", "+").replaceAll("_", "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

handle(box("push-add"), "push-problem", async () => {
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) throw new Error("This browser cannot receive push notifications.");
  if ((await Notification.requestPermission()) !== "granted") {
    throw new Error("Notifications are blocked for this site: allow them in the browser's site settings, then try again.");
  }
  const registration = await navigator.serviceWorker.ready;
  const { application_server_key: key } = await api("/v1/push/vapid-public-key");
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes(key) }));
  const { p256dh, auth } = subscription.toJSON().keys;
  const added = await api(METHODS, {
    method: "POST",
    json: { kind: "web_push", address: subscription.endpoint, keys: { p256dh, auth }, label: navigator.userAgent.slice(0, 100) },
  });
  // Its verification push comes to the worker, which confirms it by itself (sw.js).
  registration.active?.postMessage({ pendingContactMethod: added.id });
  box("push-state").textContent = "Added: a code is on its way to this browser, which confirms it by itself.";
});

load();
watchForWork();
