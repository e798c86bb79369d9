// relay247's service worker (served as /web/sw.js, scope /web/; registered by
// js/worker-client.js). It shows the alerts the service pushes (Web Push: RFC 8030/8291)
// with the tab closed, and acts on them without a page. A push's JSON is one of:
//   an alert: {title, body, priority, request_id, url, ack, tag} (app/alerts/push_payloads.py),
//       or {title, body, priority?, data: {url, ack_token, request_id}}: one notification per
//       request (a repeat replaces it), kept on screen for an emergency, with "Acknowledge";
//   {withdraw: request_id}: closes that request's notifications (someone acknowledged);
//   {verify: code, contact_method_id?}: confirms this browser's push contact method (the one
//       named, else the one the contact methods page just added here).
// "Acknowledge" posts the alert's one-time ack link (the token is the credential: no cookie
// goes with it); a click elsewhere on the notification opens the request.

const SESSION_CACHE = "relay247-session";
const CSRF_KEY = "/web/sw-state/csrf";
const PENDING_KEY = "/web/sw-state/pending-contact-method";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// A browser's own event may be kept alive until its work is done; an event a script
// dispatched may not (waitUntil throws), and its work runs all the same.
function keepAlive(event, work) {
  try {
    event.waitUntil(work);
  } catch {
    // dispatched by a script: nothing to extend
  }
  return work;
}

async function remember(key, value) {
  const cache = await caches.open(SESSION_CACHE);
  await cache.put(key, new Response(value));
}

async function recall(key) {
  const stored = await (await caches.open(SESSION_CACHE)).match(key);
  return stored ? stored.text() : null;
}

// The pages hand over their CSRF token (a cookie-authenticated call, confirming a contact
// method, needs it, and the worker cannot read the session's cookie) and the push contact
// method they just added for this browser (its verification push may not name it).
self.addEventListener("message", (event) => {
  if (typeof event.data?.csrf === "string") keepAlive(event, remember(CSRF_KEY, event.data.csrf));
  if (typeof event.data?.pendingContactMethod === "string") {
    keepAlive(event, remember(PENDING_KEY, event.data.pendingContactMethod));
  }
});

self.addEventListener("push", (event) => {
  let payload = {};
  try {
    payload = event.data ? event.data.json() : {};
  } catch {
    payload = { title: "relay247", body: event.data?.text() ?? "" };
  }
  keepAlive(event, received(payload));
});

function received(payload) {
  if (payload.withdraw) return withdraw(String(payload.withdraw));
  if (payload.verify) return verify(String(payload.verify), payload.contact_method_id);
  return show(payload);
}

function requestUrl(data) {
  if (data.url) {
    const url = new URL(data.url, self.location.origin);
    if (url.origin === self.location.origin) return url.href;
  }
  return new URL(data.request_id ? `/web/requests/${data.request_id}` : "/web/", self.location.origin).href;
}

// Either shape of an alert, as one: {request_id, url, ack_token, priority}.
function alertOf(payload) {
  const data = payload.data ?? {};
  return {
    request_id: data.request_id ?? payload.request_id,
    url: data.url ?? payload.url,
    ack_token: data.ack_token ?? payload.ack,
    priority: payload.priority ?? data.priority,
  };
}

function show(payload) {
  const alert = alertOf(payload);
  return self.registration.showNotification(payload.title ?? "relay247", {
    body: payload.body ?? "",
    data: { ...alert, url: requestUrl(alert) },
    tag: alert.request_id ?? undefined,
    renotify: Boolean(alert.request_id),
    requireInteraction: payload.requireInteraction ?? alert.priority === "emergency",
    actions: alert.ack_token ? [{ action: "acknowledge", title: "Acknowledge" }] : [],
  });
}

async function withdraw(requestId) {
  for (const notification of await self.registration.getNotifications()) {
    if (notification.tag === requestId || notification.data?.request_id === requestId) notification.close();
  }
}

// The service's own words on a refusal (problem+json), else its status.
async function detail(response) {
  try {
    const problem = await response.json();
    return problem.detail || problem.title || `relay247 answered ${response.status}`;
  } catch {
    return `relay247 answered ${response.status}`;
  }
}

async function post(path, body, headers = {}, credentials = "same-origin") {
  return fetch(path, {
    method: "POST",
    credentials,
    headers: { Accept: "application/json", "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

async function acknowledge(notification) {
  const data = notification.data ?? {};
  notification.close();
  let title;
  let body;
  try {
    const response = await post(`/v1/ack-links/${encodeURIComponent(data.ack_token)}`, {}, {}, "omit");
    title = response.ok ? "Acknowledged" : "Not acknowledged";
    body = response.ok ? notification.title : await detail(response);
  } catch {
    title = "Not acknowledged";
    body = "relay247 could not be reached: open the request to acknowledge it.";
  }
  await self.registration.showNotification(title, {
    body,
    data,
    tag: notification.tag || undefined,
    requireInteraction: title !== "Acknowledged",
  });
}

async function openPage(url) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const open = windows.find((client) => client.url === url);
  if (open) return open.focus();
  return self.clients.openWindow(url);
}

self.addEventListener("notificationclick", (event) => {
  const notification = event.notification;
  if (event.action === "acknowledge") {
    keepAlive(event, acknowledge(notification));
    return;
  }
  notification.close();
  keepAlive(event, openPage(notification.data?.url ?? new URL("/web/", self.location.origin).href));
});

async function verify(code, named) {
  const contactMethodId = named ? String(named) : await recall(PENDING_KEY);
  const csrf = await recall(CSRF_KEY);
  const contacts = new URL("/web/contacts", self.location.origin).href;
  let confirmed = false;
  if (contactMethodId) {
    try {
      const path = `/v1/me/contact-methods/${encodeURIComponent(contactMethodId)}/verify`;
      confirmed = (await post(path, { code }, csrf ? { "X-CSRF-Token": csrf } : {})).ok;
    } catch {
      confirmed = false;
    }
  }
  // Not confirmed here (signed out, say): the person can type the code on the page.
  await self.registration.showNotification(
    confirmed ? "This browser will receive relay247 alerts" : `Your relay247 verification code: ${code}`,
    {
      body: confirmed ? "Its push contact method is verified." : "Enter it on the Contact methods page.",
      data: { url: contacts, contact_method_id: contactMethodId },
      tag: `verify-${contactMethodId ?? "device"}`,
    },
  );
}
