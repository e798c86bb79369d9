// A request's escalation chain (GET /v1/requests/{id}/escalation-chain, metadata only): every
// step of its target's policy, whom it reaches, when it fired or fires, who was alerted; and
// from it, who is being chased now and what comes next.

import { api } from "./api.js";
import { countdown, duration, el, time, words } from "./dom.js";
import { clock, named } from "./named.js";

const TARGETS = {
  on_duty_primary: "on-duty primary",
  on_duty_backup: "on-duty backup",
  ncb: "NCB duty desk",
  global_desk: "global desk",
};
const ROUTES = { web_push: "push", email: "e-mail", gateway: "gateway" };
const DESK_TARGETS = new Set(["ncb", "global_desk"]);

let chain = null;

export async function loadChain(requestId) {
  chain = await api(`/v1/requests/${requestId}/escalation-chain`);
  renderChain();
  return chain;
}

function whom(step) {
  return step.reaches ? named(step.reaches) : step.label;
}

// Who is being chased now when no one person holds the request: the desk the current step
// reaches (the NCB, the global desk), while the escalation runs.
export function chasedDesk() {
  if (!chain?.running) return null;
  const step = chain.steps[chain.current_step];
  return step && DESK_TARGETS.has(step.target) ? step.label : null;
}

// Whom the step the request is at reaches: "DE backup", "NCB DE (…)".
export function currentWhom() {
  const step = chain?.steps[chain.current_step];
  return step ? whom(step) : "";
}

// What comes next if nobody acknowledges: "then: NCB DE at 03:40", or the reminders.
export function thenText() {
  if (!chain?.running) return "";
  const next = chain.steps.find((step) => step.state === "upcoming");
  if (next) return `then: ${whom(next)} at ${clock(next.due_at)}`;
  if (chain.next_reminder_at) return `then: the global desk is reminded at ${clock(chain.next_reminder_at)}`;
  const last = chain.steps[chain.steps.length - 1];
  return last ? `then: overdue, the global desk reminded every ${duration(last.ack_timeout_seconds * 1000)}` : "";
}

function alertedList(step) {
  if (!step.alerted.length) {
    return el("p", { class: "alerted-none" }, step.state === "upcoming" || step.state === "not_reached" ? "" : "Nobody alerted by push, e-mail or gateway.");
  }
  return el(
    "ul",
    { class: "alerted-people" },
    ...step.alerted.map((alert) =>
      el(
        "li",
        { dataset: { personId: alert.person.id } },
        alert.person.name ?? `${words(alert.person.role)}${alert.person.country ? `, ${alert.person.country}` : ""}`,
        ` (${alert.routes.map((route) => ROUTES[route] ?? words(route)).join(", ")}`,
        alert.count > 1 ? ` ×${alert.count}` : "",
        alert.delivered ? ")" : ", not delivered yet)",
      ),
    ),
  );
}

function when(step) {
  const timeout = duration(step.ack_timeout_seconds * 1000);
  switch (step.state) {
    case "passed":
      return ["reached ", time(step.fired_at), `; nobody acknowledged within ${timeout}`];
    case "current": {
      if (!step.due_at) return ["reached ", time(step.fired_at), "; overdue"];
      const { text, level } = countdown(step.due_at, step.fired_at);
      return [
        "reached ", time(step.fired_at), `; acknowledge by ${clock(step.due_at)}: `,
        el("span", { class: "deadline", dataset: { due: step.due_at, since: step.fired_at ?? "", level } }, text),
      ];
    }
    case "upcoming":
      return [`fires at ${clock(step.due_at)} unless acknowledged`, step.reaches ? " (on duty then)" : ""];
    case "stopped":
      return ["reached ", time(step.fired_at), chain.acknowledged_at ? "; acknowledged at this step" : "; the request ended at this step"];
    default:
      return ["not reached"];
  }
}

function renderChain() {
  document.getElementById("chain").replaceChildren(
    ...chain.steps.map((step) =>
      el(
        "li",
        {
          class: `chain-step state-${step.state}`,
          id: `chain-step-${step.step}`,
          dataset: { state: step.state, target: step.target },
          "aria-current": step.state === "current" ? "step" : null,
        },
        el("p", { class: "chain-who" }, el("strong", {}, `Step ${step.step + 1}`), ` · ${TARGETS[step.target] ?? words(step.target)}: `, el("span", { class: "chain-reaches" }, whom(step)), step.state === "current" ? el("span", { class: "flag escalated" }, "now") : ""),
        el("p", { class: "chain-when" }, ...when(step)),
        alertedList(step),
      ),
    ),
  );
}
