// A country's roster for its NCB and its contact points: who is on duty now, and the next
// seven days as the desk lives them, day by day in the country's own time zone, with every
// period that has nobody on duty marked in words as well as in red.

import { watchForWork } from "./alerts.js";
import { api, query, showProblem } from "./api.js";
import { el, me, words } from "./dom.js";
import { instantOfWall, wallClock } from "./zoned.js";

const DAYS = 7;
const LAYER_ORDER = { primary: 0, backup: 1 };
// Read again this often, so that a desk screen left open stays true as shifts hand over.
const REFRESH_EVERY = 15 * 60 * 1000;
// The page's own address may name another country (the global desk, an admin); the API
// decides whether this person may see it.
const country = (new URLSearchParams(window.location.search).get("country") ?? me.country).toUpperCase();

// The instant a local date's day begins in the zone. The offset is read twice because the
// day may begin on the other side of a daylight-saving change than the guess.
function startOfDay(year, month, day, zone) {
  return instantOfWall(Date.UTC(year, month - 1, day), zone);
}

// The zone's days from today's on: [{ start, end }] as instants, ends exclusive.
function days(zone, count) {
  const today = wallClock(Date.now(), zone);
  const result = [];
  for (let n = 0; n < count; n += 1) {
    // Date.UTC rolls a day past the month's end over into the next month.
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + n));
    const next = new Date(Date.UTC(today.year, today.month - 1, today.day + n + 1));
    result.push({
      start: startOfDay(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), zone),
      end: startOfDay(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), zone),
    });
  }
  return result;
}

function formatter(zone, options) {
  return new Intl.DateTimeFormat(undefined, { timeZone: zone, ...options });
}

function clock(instant, zone) {
  const iso = new Date(instant).toISOString();
  return el("time", { datetime: iso, title: iso }, formatter(zone, { hour: "2-digit", minute: "2-digit" }).format(instant));
}

function dayAndClock(instant, zone) {
  const iso = new Date(instant).toISOString();
  const text = formatter(zone, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }).format(instant);
  return el("time", { datetime: iso, title: iso }, text);
}

function layerName(layer) {
  return layer === "primary" ? "Primary" : "Backup";
}

function duty(layer, item, zone) {
  if (!item) {
    return [el("dt", {}, layerName(layer)), el("dd", { id: `on-duty-${layer}`, class: "gap" }, "No one on duty")];
  }
  const via = item.source === "rotation" ? "" : ` (${words(item.source)})`;
  return [
    el("dt", {}, layerName(layer)),
    el("dd", { id: `on-duty-${layer}` }, el("strong", {}, item.name), via, ", until ", dayAndClock(Date.parse(item.ends_at), zone)),
  ];
}

// A shift or a gap as it falls within one day: clipped to the day, saying so when it runs on
// from the day before or into the next.
function block(item, day, zone) {
  const start = Math.max(Date.parse(item.starts_at), day.start);
  const end = Math.min(Date.parse(item.ends_at), day.end);
  const before = Date.parse(item.starts_at) < day.start;
  const after = Date.parse(item.ends_at) > day.end;
  const times =
    before && after
      ? ["all day"]
      : [
          before ? "from the day before" : clock(start, zone),
          " – ",
          after ? "into the next day" : end === day.end ? "midnight" : clock(end, zone),
        ];
  if (item.gap) {
    return el(
      "li",
      { class: `gap layer-${item.layer}`, dataset: { start: item.starts_at, end: item.ends_at } },
      el("span", { class: "person" }, "No one on duty"),
      el("span", { class: "layer" }, ` ${layerName(item.layer).toLowerCase()} layer`),
      el("span", { class: "when" }, ...times),
    );
  }
  return el(
    "li",
    { class: `shift layer-${item.layer}`, dataset: { principalId: item.principal_id, start: item.starts_at, end: item.ends_at } },
    el("span", { class: "person" }, item.name),
    el("span", { class: "layer" }, ` ${layerName(item.layer).toLowerCase()}${item.source === "rotation" ? "" : `, ${words(item.source)}`}`),
    el("span", { class: "when" }, ...times),
  );
}

function renderWeek(week, shifts, gaps, zone) {
  const items = [...shifts.map((shift) => ({ ...shift, gap: false })), ...gaps.map((gap) => ({ ...gap, gap: true }))];
  const now = Date.now();
  const dayName = formatter(zone, { weekday: "long", day: "numeric", month: "long" });
  document.getElementById("week").replaceChildren(
    ...week.map((day, index) => {
      const within = items
        .filter((item) => Date.parse(item.starts_at) < day.end && Date.parse(item.ends_at) > day.start)
        .sort((a, b) => Math.max(Date.parse(a.starts_at), day.start) - Math.max(Date.parse(b.starts_at), day.start) || LAYER_ORDER[a.layer] - LAYER_ORDER[b.layer]);
      const headingId = `day-${index}`;
      return el(
        "li",
        { class: "day", "aria-labelledby": headingId, "aria-current": now >= day.start && now < day.end ? "date" : undefined },
        el("h3", { id: headingId }, dayName.format(day.start), index === 0 ? " (today)" : ""),
        within.length
          ? el("ul", { class: "blocks", "aria-labelledby": headingId }, ...within.map((item) => block(item, day, zone)))
          : el("p", { class: "empty" }, "Nothing planned"),
      );
    }),
  );
}

async function load() {
  try {
    const onDuty = await api(`/v1/countries/${encodeURIComponent(country)}/on-duty`);
    const zone = onDuty.time_zone;
    document.getElementById("roster-title").textContent = `Roster of ${country}`;
    document.getElementById("roster-zone").textContent = `Time zone: ${zone}`;
    document.getElementById("on-duty").replaceChildren(...duty("primary", onDuty.primary, zone), ...duty("backup", onDuty.backup, zone));

    const week = days(zone, DAYS);
    const span = { from: new Date(week[0].start).toISOString(), to: new Date(week[DAYS - 1].end).toISOString() };
    const [shifts, gaps] = await Promise.all([
      api(query(`/v1/countries/${encodeURIComponent(country)}/roster/shifts`, span)),
      api(query(`/v1/countries/${encodeURIComponent(country)}/roster/gaps`, span)),
    ]);
    renderWeek(week, shifts.items, gaps.items, zone);
  } catch (error) {
    showProblem(error);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

load();
setInterval(load, REFRESH_EVERY);
// An override added or cancelled on this page (roster-overrides.js) changes the shifts.
document.addEventListener("roster-changed", load);
watchForWork();
