// Which events put work on the reader: the server's rule (app/alerts/rules.py, which the
// fan-out reads to alert people by push, e-mail and gateway), restated for a page that hears
// the same events over its socket. The two are held equal by a test that runs both on the
// same cases (tests/browser/test_dashboard_alerts.py). Nothing else in the scripts decides it.

import { OPEN } from "./lifecycle.js";

// request.updated carries the lifecycle action taken (app/requests/actions.py).
const REQUESTER_ALERTED = { request_info: "asked_for_information", respond: "responded" };

// A recipient as rules.py writes one: a person, every person of a role (in a country, or
// anywhere), or every person of an agency.
function matches(recipient, reader) {
  if (recipient.principalId) return recipient.principalId === reader.principalId;
  if (recipient.agencyId) return recipient.agencyId === reader.agencyId;
  return recipient.role === reader.role && (!recipient.country || recipient.country === reader.country);
}

// Whoever holds the request now: its assignee, or else the desk of the step it is at.
function holders(data) {
  if (data.assigned_to) return [{ principalId: data.assigned_to }];
  const country = data.target_country;
  if (data.target === "global_desk") return [{ role: "gs" }];
  if (data.target === "ncb") return [{ role: "ncb", country }];
  return [
    { role: "contact_point", country },
    { role: "ncb", country },
  ];
}

// Whether the request, as it stands, is held by the reader: assigned to them, or at a step
// that reaches their desk (a queue's "escalated to you").
export function heldBy(data, reader) {
  return holders(data).some((recipient) => matches(recipient, reader));
}

function recipients(event, data) {
  if (event === "request.assigned") return { reason: "assigned", who: holders(data) };
  if (event === "request.escalated") return { reason: "escalated", who: holders(data) };
  if (event === "request.overdue") {
    return {
      reason: data.reminder ? "reminder" : "overdue",
      who: [{ role: "gs" }, { role: "ncb", country: data.target_country }],
    };
  }
  if (event === "request.updated" && Object.hasOwn(REQUESTER_ALERTED, data.action ?? "")) {
    return { reason: REQUESTER_ALERTED[data.action], who: [{ agencyId: data.requesting_agency_id }] };
  }
  return { reason: null, who: [] };
}

// Why this event alerts the reader ("assigned", "escalated", "overdue", "reminder",
// "asked_for_information", "responded"), or null when it does not.
export function reasonFor(event, data, reader) {
  const { reason, who } = recipients(event, data ?? {});
  return who.some((recipient) => matches(recipient, reader)) ? reason : null;
}

// After these nobody needs alerting about the request any more (rules.ends_alerts).
export function endsAlerts(event, data) {
  return (
    event === "request.acknowledged" ||
    (event.startsWith("request.") && Boolean(data?.status) && !OPEN.includes(data.status))
  );
}
