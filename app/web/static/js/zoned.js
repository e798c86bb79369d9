// Wall-clock time in a named time zone (a desk's), whatever zone the browser is in: what a
// datetime-local input means at the desk, and back.

// The parts of an instant's wall-clock time in a zone.
export function wallClock(instant, zone) {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  return Object.fromEntries(parts.map((part) => [part.type, Number(part.value)]));
}

// How far the zone's wall clock is ahead of UTC at an instant, in ms.
export function offsetAt(instant, zone) {
  const w = wallClock(instant, zone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(instant / 1000) * 1000;
}

// The instant a wall-clock time (ms as if it were UTC) is in the zone. The offset is read
// twice because the time may be on the other side of a daylight-saving change than the guess.
export function instantOfWall(wall, zone) {
  const guess = wall - offsetAt(wall, zone);
  return wall - offsetAt(guess, zone);
}

// A datetime-local input's value ("2026-12-07T22:00"), read in the zone, as an ISO instant;
// null when empty or malformed (the API then names what is missing).
export function instantOfLocal(value, zone) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value ?? "");
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  return new Date(instantOfWall(Date.UTC(y, mo - 1, d, h, mi, s || 0), zone)).toISOString();
}

// An instant as a datetime-local input's value in the zone.
export function localOfInstant(instant, zone) {
  const w = wallClock(instant, zone);
  const pad = (n) => String(n).padStart(2, "0");
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}
