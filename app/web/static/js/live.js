// The WebSocket feed (docs: the WebSocket contract in the README): authenticated by the
// session cookie, it keeps one cursor per channel and, after any drop (a sleeping laptop,
// lost Wi-Fi, a redeploy), reconnects and resumes from them, so no event is lost; events at
// or before a cursor are dropped, so none is shown twice.

import { SIGN_IN } from "./api.js";

const CLOSE_POLICY = 1008;
const CLOSE_TOKEN_REVOKED = 4001;
// Probe the connection this often; a probe unanswered for PONG_WAIT means it is dead, which
// a socket of a laptop that slept may never notice by itself.
const PROBE_EVERY = 15000;
const PONG_WAIT = 5000;

export class LiveFeed {
  constructor({ onStart, onEvent, onStatus }) {
    this.onStart = onStart;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.cursors = new Map();
    this.started = false;
    this.attempt = 0;
    this.socket = null;
    this.received = new Set();
  }

  start() {
    this.connect();
    setInterval(() => this.probe(), PROBE_EVERY);
    window.addEventListener("online", () => this.probe());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.probe();
    });
  }

  connect() {
    this.onStatus(this.started ? "reconnecting" : "connecting");
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/v1/ws`);
    this.socket = socket;
    socket.addEventListener("message", (message) => this.receive(socket, JSON.parse(message.data)));
    socket.addEventListener("close", (event) => this.closed(socket, event));
  }

  receive(socket, frame) {
    if (socket !== this.socket) return;
    switch (frame.type) {
      case "welcome":
        this.welcome(socket, frame);
        break;
      case "event":
        if (frame.offset <= (this.cursors.get(frame.channel) ?? -1)) return;
        this.cursors.set(frame.channel, frame.offset);
        this.onEvent(frame);
        break;
      case "pong":
        clearTimeout(this.pongTimer);
        break;
      case "error":
        console.warn("the service refused a frame:", frame.detail);
        break;
      default:
        break;
    }
  }

  welcome(socket, frame) {
    // A channel seen before resumes from its cursor; a new one starts at its head.
    const cursors = {};
    for (const channel of frame.channels) {
      cursors[channel] = this.cursors.get(channel) ?? frame.heads[channel] ?? 0;
      this.cursors.set(channel, cursors[channel]);
    }
    socket.send(JSON.stringify({ type: "resume", cursors }));
    this.attempt = 0;
    this.onStatus("live");
    if (!this.started) {
      // Read the lists only now, after the heads: whatever changes later is pushed.
      this.started = true;
      this.onStart(frame);
    }
  }

  closed(socket, event) {
    if (socket !== this.socket) return;
    clearTimeout(this.pongTimer);
    if (event.code === CLOSE_TOKEN_REVOKED || (event.code === CLOSE_POLICY && /authenticate|token/.test(event.reason))) {
      this.onStatus("signed-out");
      window.location.assign(SIGN_IN);
      return;
    }
    this.reconnect();
  }

  // Backoff with jitter, so that a redeploy is not met by every desk at the same instant.
  reconnect() {
    this.socket = null;
    this.attempt += 1;
    const backoff = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    this.onStatus("reconnecting");
    setTimeout(() => this.connect(), backoff / 2 + Math.random() * (backoff / 2));
  }

  probe() {
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    clearTimeout(this.pongTimer);
    socket.send(JSON.stringify({ type: "ping" }));
    this.pongTimer = setTimeout(() => {
      if (socket !== this.socket) return;
      // Dead without knowing it: do not wait for a closing handshake that will not come.
      this.reconnect();
      socket.close(4000, "no answer to a ping");
    }, PONG_WAIT);
  }

  // A request was shown to the person: the first screen to do so marks it delivered.
  confirmShown(requestId) {
    if (this.received.has(requestId)) return;
    const socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    this.received.add(requestId);
    socket.send(JSON.stringify({ type: "received", request_id: requestId }));
  }
}

// The status line in the header: hidden while live.
export function showConnection(status) {
  const line = document.getElementById("connection");
  if (!line) return;
  const text = {
    connecting: "Connecting…",
    reconnecting: "Connection lost: reconnecting…",
    "signed-out": "Signed out",
    live: "Live",
  }[status];
  line.textContent = text;
  line.dataset.status = status;
  line.hidden = false;
  document.body.dataset.connection = status;
}
