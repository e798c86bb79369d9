// Announcing work that waits for the reader: every event alert-rules.js says alerts them
// rings, shows in the page's alert list and (when permitted) as a notification, and, while the
// request waits for acknowledgement, rings again every REPEAT_MS until someone acknowledges
// it (an event that ends its alerting) or the reader silences it. The on/off switch is a preference, kept in localStorage, so it
// survives reloads, other pages and the outage page; it is offered on every page of a role
// that receives work (base.html).
//
// What the page rang is readable for tests and for anyone curious: body[data-rings] counts
// every ring, body[data-alerting] the requests still ringing, body[data-repeating] whether the
// repeat is set, body[data-sound] the audio's
// state (a browser keeps it "suspended" until the reader's first click or key on a page).

import { allPages } from "./api.js";
import { el, me, words } from "./dom.js";
import { endsAlerts, reasonFor } from "./alert-rules.js";
import { ACKNOWLEDGE_FROM } from "./lifecycle.js";
import { LiveFeed, showConnection } from "./live.js";

const PREFERENCE = "relay247.alerts";
// What rings on this tab: request ids, reasons and headlines, no content (sessionStorage).
const RINGING = "relay247.ringing";
export const REPEAT_MS = 4000;

const HEADLINES = {
  assigned: (r) => `New ${r.priority} request from ${r.requesting_country}`,
  escalated: (r) => `Escalated to you: ${r.priority} request from ${r.requesting_country}`,
  overdue: (r) => `Overdue: ${r.priority} request from ${r.requesting_country} to ${r.target_country}`,
  reminder: (r) => `Still overdue: ${r.priority} request from ${r.requesting_country} to ${r.target_country}`,
  asked_for_information: (r) => `${r.target_country} asks for information on your ${r.priority} request`,
  responded: (r) => `${r.target_country} responded to your ${r.priority} request`,
};

function savedAlerts() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(RINGING) ?? "[]");
    return Array.isArray(saved) ? saved : [];
  } catch {
    return []; // not ours, or damaged: nothing to ring on
  }
}

class Alerts {
  constructor() {
    this.toggle = document.getElementById("alerts-switch");
    this.list = document.getElementById("alerting");
    this.on = this.toggle !== null && localStorage.getItem(PREFERENCE) === "on";
    this.pending = new Map();
    this.saved = savedAlerts();
    this.rings = 0;
    this.timer = null;
    this.audio = null;
    if (!this.toggle) return;
    this.toggle.addEventListener("click", () => this.flip());
    // Another tab flipped it: follow.
    window.addEventListener("storage", (event) => {
      if (event.key === PREFERENCE) this.set(event.newValue === "on");
    });
    // A browser lets a page make sound only after the reader's gesture on it.
    for (const kind of ["pointerdown", "keydown"]) {
      document.addEventListener(kind, () => this.audio?.resume().then(() => this.mark()), { once: true });
    }
    if (this.on) this.audio = new AudioContext();
    this.render();
    this.restore();
  }

  // What rang on this tab's previous page (a reload, a click to another page) rings on here,
  // unless it was acknowledged meanwhile: the list of what waits says so.
  async restore() {
    const saved = this.saved;
    if (!this.on || saved.length === 0) return;
    let waiting;
    try {
      const items = await allPages("/v1/requests", { status: [...ACKNOWLEDGE_FROM] }, 5);
      waiting = new Set(items.map((item) => item.id));
    } catch {
      return;
    }
    for (const alert of saved) {
      if (!this.pending.has(alert.id) && (!alert.repeats || waiting.has(alert.id))) this.pending.set(alert.id, alert);
    }
    if (this.repeating().length > 0) this.timer ??= setInterval(() => this.repeat(), REPEAT_MS);
    this.render();
  }

  save() {
    sessionStorage.setItem(RINGING, JSON.stringify([...this.pending.values()]));
  }

  async flip() {
    if (this.on) {
      localStorage.setItem(PREFERENCE, "off");
      this.set(false);
      return;
    }
    // On at once: an event that arrives while the browser asks about notifications rings.
    this.audio = this.audio ?? new AudioContext();
    localStorage.setItem(PREFERENCE, "on");
    this.set(true);
    await this.audio.resume();
    if ("Notification" in window && Notification.permission === "default") await Notification.requestPermission();
    this.render();
  }

  set(on) {
    this.on = on;
    if (!on) this.silenceAll();
    this.render();
  }

  // Every event the page's socket delivers passes here.
  hear(frame) {
    const data = frame.data;
    if (!data?.request_id || !frame.event.startsWith("request.")) return;
    if (endsAlerts(frame.event, data)) {
      this.silence(data.request_id);
      return;
    }
    const reason = reasonFor(frame.event, data, me);
    if (reason && this.on) this.announce(reason, data);
  }

  announce(reason, request) {
    const id = request.request_id;
    const headline = `${request.drill_id ? "DRILL: " : ""}${HEADLINES[reason](request)}`;
    // What waits for an acknowledgement rings until it comes; a question or an answer to
    // the requester (acknowledged long since) rings once and stays listed until silenced.
    const repeats = ACKNOWLEDGE_FROM.has(request.status);
    this.pending.set(id, { id, reason, headline, priority: request.priority, repeats });
    this.ring(request.priority);
    this.notify(headline, request);
    if (repeats) this.timer ??= setInterval(() => this.repeat(), REPEAT_MS);
    this.render();
  }

  repeating() {
    return [...this.pending.values()].filter((alert) => alert.repeats);
  }

  repeat() {
    const urgent = this.repeating().some((alert) => alert.priority === "emergency");
    this.ring(urgent ? "emergency" : "other");
  }

  silence(id) {
    if (!this.pending.delete(id)) return;
    if (this.repeating().length === 0) this.stopRepeating();
    this.render();
  }

  silenceAll() {
    this.pending.clear();
    this.stopRepeating();
  }

  stopRepeating() {
    clearInterval(this.timer);
    this.timer = null;
    this.mark();
  }

  ring(priority) {
    this.rings += 1;
    this.mark();
    const audio = this.audio;
    if (!audio || audio.state !== "running") return;
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = priority === "emergency" ? 880 : 660;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.6);
  }

  notify(headline, request) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const url = `/web/requests/${request.request_id}`;
    const notification = new Notification(headline, {
      body: `${words(request.type)} · TLP:${request.handling_code}`,
      tag: request.request_id,
      requireInteraction: request.priority === "emergency",
    });
    notification.addEventListener("click", () => {
      window.focus();
      notification.close();
      window.location.assign(url);
    });
  }

  mark() {
    document.body.dataset.rings = String(this.rings);
    document.body.dataset.alerting = String(this.pending.size);
    document.body.dataset.repeating = String(this.timer !== null);
    document.body.dataset.sound = this.audio?.state ?? "off";
  }

  render() {
    this.mark();
    this.save();
    if (!this.toggle) return;
    const notifications = "Notification" in window && Notification.permission === "granted";
    this.toggle.setAttribute("aria-pressed", String(this.on));
    this.toggle.textContent = !this.on
      ? "Turn on sound and notifications"
      : notifications
        ? "Sound and notifications on"
        : "Sound on (notifications not allowed)";
    this.toggle.title = this.on ? "Click to turn alerts off" : "";
    this.list.hidden = this.pending.size === 0;
    this.list.replaceChildren(
      ...[...this.pending.values()].map((alert) =>
        el(
          "li",
          { id: `alerting-${alert.id}`, class: `priority-${alert.priority}`, dataset: { reason: alert.reason } },
          el("a", { href: `/web/requests/${alert.id}` }, alert.headline),
          " ",
          el("button", { type: "button", class: "secondary", onclick: () => this.silence(alert.id) }, "Silence"),
        ),
      ),
    );
  }
}

export const alerts = new Alerts();

// A page with no socket of its own (the roster, the agreements, contact methods) still hears
// the reader's work: one socket for the alerts alone.
export function watchForWork() {
  if (!alerts.toggle) return;
  new LiveFeed({ onStart: () => {}, onEvent: (frame) => alerts.hear(frame), onStatus: showConnection }).start();
}
