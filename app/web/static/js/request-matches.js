// A request's "Shared data" (GET /v1/requests/{id}/matches): the shared reports carrying its
// identifiers, as far as the reader may see both the request's content and each report. Every
// page shown is an audited read, so it is read once when the content is, and again only on a
// click after the requester is told of new matches (request.matched).

import { api, query, showProblemAt } from "./api.js";
import { el, time, tlpBadge, words } from "./dom.js";

const section = () => document.getElementById("shared-section");

function row(match) {
  return el(
    "tr",
    { dataset: { objectRow: match.object_row_id } },
    el("td", { dataset: { label: "Identifier" } }, el("span", { class: "kind" }, words(match.kind)), " ", el("code", {}, match.value)),
    el("td", { dataset: { label: "Report" } }, el("a", { href: match.url, rel: "noopener" }, `${match.type} ${match.stix_id}`)),
    el("td", { dataset: { label: "Handling" } }, tlpBadge(match.handling_code)),
    el("td", { dataset: { label: "Collection" } }, match.collection_title),
    el("td", { dataset: { label: "From" } }, match.provenance ?? "—"),
    el("td", { dataset: { label: "Shared" } }, time(match.date_added)),
  );
}

function summary(identifier) {
  const reports = identifier.reports === 1 ? "1 shared report" : `${identifier.reports} shared reports`;
  return el("li", {}, el("code", {}, identifier.value), ` (${words(identifier.kind)}) appears in ${reports}`);
}

// ``readable``: whether the reader may read the request's content (the page got it): who may
// not is refused the matches too, so nothing is asked.
export async function loadMatches(requestId, { readable }) {
  section().hidden = !readable;
  if (!readable) return;
  try {
    const items = [];
    let identifiers = null;
    let cursor = null;
    for (let page = 0; page < 20; page += 1) {
      const answer = await api(query(`/v1/requests/${requestId}/matches`, { cursor, limit: 100 }));
      identifiers ??= answer.identifiers;
      items.push(...answer.items);
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
    document.getElementById("shared-summary").replaceChildren(...identifiers.map(summary));
    document.getElementById("shared-rows").replaceChildren(...items.map(row));
    document.getElementById("shared-empty").hidden = items.length > 0;
    document.getElementById("shared-table").hidden = items.length === 0;
  } catch (error) {
    showProblemAt(section(), error);
  }
}
