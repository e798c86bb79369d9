// Hand a request over to another active contact point of its target desk, or take it over
// (POST /v1/requests/{id}/assign): offered only where the service says the reader may
// (`may_assign`), to the people the reader may see (GET /v1/principals: the desk's own
// contact points and NCB see their country's, the global desk everyone's).

import { ApiError, allPages, api, attempt, showProblemAt } from "./api.js";
import { el, me } from "./dom.js";

const form = document.getElementById("handover");
const select = document.getElementById("handover-to");
const takeOver = document.getElementById("take-over");
const done = document.getElementById("handover-done");
let colleagues = null; // Promise<[{id, name}]>, read once per page
let shown = null;

function contactPointsOf(country) {
  colleagues ??= allPages("/v1/principals", { country, role: "contact_point" });
  return colleagues;
}

export async function renderHandover(request, onChanged) {
  shown = { request, onChanged };
  form.hidden = !request.may_assign;
  takeOver.hidden = !(request.may_assign && me.role === "contact_point" && request.assigned_to !== me.principalId);
  if (!request.may_assign) return;
  try {
    const people = await contactPointsOf(request.target_country);
    const chosen = select.value;
    const others = people.filter((person) => person.id !== request.assigned_to && person.id !== me.principalId);
    select.replaceChildren(
      el("option", { value: "" }, "Choose a colleague"),
      ...others.map((person) => el("option", { value: person.id, selected: person.id === chosen }, person.name)),
    );
    // Nobody else to hand it to: no choice that cannot succeed.
    for (const node of form.querySelectorAll(".handover-choice")) node.hidden = others.length === 0;
    form.hidden = others.length === 0 && takeOver.hidden;
  } catch (error) {
    showProblemAt(form, error);
  }
}

// Confirmation and refusal both beside the control (the refusal by api.js's showProblemAt).
async function assign(principalId, what) {
  done.hidden = true;
  await attempt(form, async () => {
    await api(`/v1/requests/${shown.request.id}/assign`, { method: "POST", json: { principal_id: principalId } });
    done.textContent = what;
    done.hidden = false;
    await shown.onChanged();
  });
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (!select.value) {
    showProblemAt(form, new ApiError(422, { detail: "Choose whom to hand the request to.", errors: [{ loc: ["body", "principal_id"], msg: "required" }] }));
    select.focus();
    return;
  }
  const name = select.selectedOptions[0]?.textContent ?? "them";
  assign(select.value, `Handed over to ${name}.`);
});
takeOver.addEventListener("click", () => assign(me.principalId, "You hold this request now."));
