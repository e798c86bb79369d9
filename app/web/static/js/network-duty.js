// The global desk's view of who is on duty at every desk of the network: one compact row a
// country, primary and backup with the end of their shift, a layer with nobody in red. Read
// again when the first of the shifts shown ends, and every quarter of an hour for changes
// made meanwhile (a country's own roster edits).

import { api } from "./api.js";
import { el } from "./dom.js";

const RECHECK = 15 * 60 * 1000;
// Countries read at once: the network has up to ~200, the server's admission has a limit.
const AT_ONCE = 6;
let timer = null;

function cell(layer, duty, zone) {
  if (!duty) return el("td", { class: "gap", dataset: { label: layer } }, "No one on duty");
  const until = new Intl.DateTimeFormat(undefined, { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit" }).format(new Date(duty.ends_at));
  return el(
    "td",
    { dataset: { label: layer, principalId: duty.principal_id } },
    el("strong", {}, duty.name),
    " until ",
    el("time", { datetime: duty.ends_at, title: duty.ends_at }, until),
  );
}

async function eachCountry(codes) {
  const results = new Array(codes.length);
  let next = 0;
  async function worker() {
    while (next < codes.length) {
      const index = next++;
      try {
        results[index] = await api(`/v1/countries/${encodeURIComponent(codes[index])}/on-duty`);
      } catch (error) {
        results[index] = { country_code: codes[index], error: error.message };
      }
    }
  }
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
  return results;
}

async function load() {
  const body = document.getElementById("duty-rows");
  try {
    const countries = (await api("/v1/countries")).items;
    const names = new Map(countries.map((country) => [country.code, country.name]));
    const found = await eachCountry(countries.map((country) => country.code));
    body.replaceChildren(
      ...found.map((onDuty) =>
        onDuty.error
          ? el("tr", { id: `duty-${onDuty.country_code}` }, el("th", { scope: "row" }, onDuty.country_code), el("td", { colspan: 3, class: "problem" }, onDuty.error))
          : el(
              "tr",
              { id: `duty-${onDuty.country_code}` },
              el("th", { scope: "row" }, el("a", { href: `/web/roster?country=${encodeURIComponent(onDuty.country_code)}` }, `${names.get(onDuty.country_code) ?? ""} (${onDuty.country_code})`)),
              cell("primary", onDuty.primary, onDuty.time_zone),
              cell("backup", onDuty.backup, onDuty.time_zone),
              el("td", { dataset: { label: "time zone" } }, onDuty.time_zone),
            ),
      ),
    );
    const ends = found.flatMap((onDuty) => [onDuty.primary, onDuty.backup]).filter(Boolean).map((duty) => Date.parse(duty.ends_at));
    const first = ends.length ? Math.min(...ends) : null;
    clearTimeout(timer);
    timer = setTimeout(load, first === null ? RECHECK : Math.min(Math.max(first - Date.now() + 500, 1000), RECHECK));
  } catch (error) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "problem" }, `Who is on duty could not be read: ${error.message}`)));
    clearTimeout(timer);
    timer = setTimeout(load, RECHECK);
  } finally {
    document.getElementById("network-duty").dataset.loaded = "true";
  }
}

load();
