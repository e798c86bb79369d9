// Who holds a request, by name: a desk at night needs to know whom to call, not that
// "another contact point" has it. A holder is always a contact point of the request's
// target country, so a country's contact points are read once, in one list, whatever the
// number of requests they hold; and only where this reader may see that country's people
// (its own desk and NCB, or the global desk), so a page never asks what would be refused.

import { allPages } from "./api.js";
import { el, me } from "./dom.js";

const SEES_OWN_COUNTRY = new Set(["contact_point", "ncb"]);
const SEES_EVERYONE = new Set(["gs", "admin"]);
const byCountry = new Map(); // country -> Promise<Map<principal id, name>>

function maySee(country) {
  return SEES_EVERYONE.has(me.role) || (SEES_OWN_COUNTRY.has(me.role) && country === me.country);
}

function contactPointsOf(country) {
  if (!byCountry.has(country)) {
    const read = allPages("/v1/principals", { country, role: "contact_point", include_disabled: true }).then(
      (people) => new Map(people.map((person) => [person.id, person.name])),
      () => new Map(),
    );
    byCountry.set(country, read);
  }
  return byCountry.get(country);
}

async function nameOf(principalId, country) {
  const name = (await contactPointsOf(country)).get(principalId);
  // Not in the list as read (someone added since, or the read failed while the service or
  // the network was away): read it again when a row is next drawn.
  if (!name) byCountry.delete(country);
  return name;
}

// "You", the holder's name (filled in once read), or the desk when nobody holds it.
// Held by nobody in person: the desk the escalation step it is at reaches (escalated_to).
function chasedDesk(request) {
  if (request.escalated_to === "ncb") return `NCB ${request.target_country}`;
  if (request.escalated_to === "global_desk") return "the global desk";
  return `${request.target_country} desk`;
}

export function holder(request, { you = "You", someone = "Another contact point" } = {}) {
  if (request.assigned_to === me.principalId) return el("strong", {}, you);
  if (!request.assigned_to) return chasedDesk(request);
  const node = el("span", { class: "holder", dataset: { principalId: request.assigned_to } }, someone);
  if (maySee(request.target_country)) {
    nameOf(request.assigned_to, request.target_country).then((name) => {
      if (name) node.textContent = name;
    });
  }
  return node;
}
