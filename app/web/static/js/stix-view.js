// A stored STIX object shown to a person: partner data, hostile strings included, so it goes
// into the page only as the text of a <pre> (never as markup), pretty-printed.

import { api, showProblem } from "./api.js";

export async function showObject(rowId) {
  const section = document.getElementById("object-view");
  const box = document.getElementById("object-json");
  try {
    const stored = await api(`/v1/shared-data/objects/${encodeURIComponent(rowId)}`);
    box.textContent = stored.object === null ? "Purged at the end of its retention." : JSON.stringify(stored.object, null, 2);
    document.getElementById("object-view-title").textContent = `Object ${stored.stix_id}`;
    section.hidden = false;
    box.focus();
  } catch (error) {
    showProblem(error);
  }
}
