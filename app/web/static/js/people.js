// Who holds a request, by name: a desk at night needs to know whom to call, not that
// "another contact point" has it. Each person is read once from the directory, and only
// where this reader may see people (their own country's desk, or the whole network), so a
// page never asks for what the service would refuse.

import { api } from "./api.js";
import { el, me } from "./dom.js";

const SEES_OWN_COUNTRY = new Set(["contact_point", "ncb"]);
const SEES_EVERYONE = new Set(["gs", "admin"]);
const names = new Map();

function maySee(country) {
  return SEES_EVERYONE.has(me.role) || (SEES_OWN_COUNTRY.has(me.role) && country === me.country);
}

function nameOf(principalId) {
  if (!names.has(principalId)) {
    const read = api(`/v1/principals/${encodeURIComponent(principalId)}`).then(
      (person) => person.name,
      () => null, // gone from view meanwhile: the generic words stay
    );
    names.set(principalId, read);
  }
  return names.get(principalId);
}

// "You", the holder's name (filled in once read), or the desk when nobody holds it.
export function holder(request, { you = "You", someone = "Another contact point" } = {}) {
  if (request.assigned_to === me.principalId) return el("strong", {}, you);
  if (!request.assigned_to) return `${request.target_country} desk`;
  const node = el("span", { class: "holder", dataset: { principalId: request.assigned_to } }, someone);
  if (maySee(request.target_country)) {
    nameOf(request.assigned_to).then((name) => {
      if (name) node.textContent = name;
    });
  }
  return node;
}
