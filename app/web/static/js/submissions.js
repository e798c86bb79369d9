// A partner's submissions and what became of them: triage counts per submission and, for the
// one opened, each object's outcome, the desk's note and the feedback the network gave. A
// partner has no live feed (it receives no pushes): the page reads on load and on demand.

import { api, allPages, showProblem } from "./api.js";
import { el, time, tlpBadge, words } from "./dom.js";

const OUTCOME = {
  quarantined: "Waiting for the global desk",
  info_requested: "More information asked",
  accepted: "Accepted",
  rejected: "Rejected",
};

function feedbackText(feedback) {
  return feedback.length ? feedback.map((item) => `${words(item.kind)} ×${item.count}`).join(", ") : "—";
}

function objectRow(item) {
  return el(
    "tr",
    { id: `object-${item.row_id}`, dataset: { triage: item.triage ?? "" } },
    el("td", { dataset: { label: "Type" } }, item.type),
    el("td", { dataset: { label: "STIX id" } }, el("code", {}, item.stix_id)),
    el("td", { dataset: { label: "Handling" } }, tlpBadge(item.handling_code)),
    el("td", { class: "outcome", dataset: { label: "Outcome" } }, OUTCOME[item.triage] ?? words(item.triage)),
    el("td", { class: "text", dataset: { label: "Note" } }, item.decision_note || "—"),
    el("td", { dataset: { label: "Feedback" } }, feedbackText(item.feedback)),
  );
}

async function open(submission) {
  try {
    const objects = await allPages(`/v1/shared-data/submissions/${submission.id}/objects`);
    document.getElementById("object-rows").replaceChildren(...objects.map(objectRow));
    const section = document.getElementById("submission-objects");
    section.hidden = false;
    document.getElementById("submission-objects-title").focus?.();
  } catch (error) {
    showProblem(error);
  }
}

function row(submission) {
  const counts = submission.triage;
  return el(
    "tr",
    { id: `submission-${submission.id}` },
    el("td", { dataset: { label: "Submitted" } }, time(submission.created_at)),
    el("td", { dataset: { label: "Objects stored" } }, String(submission.success_count)),
    el("td", { dataset: { label: "Refused" } }, String(submission.failure_count)),
    el("td", { dataset: { label: "Waiting" } }, String(counts.quarantined)),
    el("td", { dataset: { label: "Asked for more" } }, String(counts.info_requested)),
    el("td", { class: "accepted", dataset: { label: "Accepted" } }, String(counts.accepted)),
    el("td", { dataset: { label: "Rejected" } }, String(counts.rejected)),
    el("td", { dataset: { label: "Feedback" } }, String(submission.feedback)),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => open(submission) }, "Show objects")),
  );
}

async function load() {
  try {
    const submissions = await allPages("/v1/shared-data/submissions");
    document.getElementById("submission-rows").replaceChildren(...submissions.map(row));
    document.getElementById("submissions-empty").hidden = submissions.length > 0;
  } catch (error) {
    showProblem(error);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

load();
