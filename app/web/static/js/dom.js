// Building the page from data: text only ever goes in as text, never as HTML.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// The control (or group) of ``container`` that a problem's field path names
// ("ack_steps[0].steps[1].target", "reason"), by data-field or name, else the nearest path
// above it that has one: where a message about that field belongs.
export function fieldAt(container, path) {
  let rest = path ?? "";
  while (rest) {
    const found =
      container.querySelector(`[data-field="${CSS.escape(rest)}"]`) ?? container.querySelector(`[name="${CSS.escape(rest)}"]`);
    if (found) return found;
    const cut = Math.max(rest.lastIndexOf("."), rest.lastIndexOf("["));
    rest = cut > 0 ? rest.slice(0, cut) : "";
  }
  return null;
}

export function words(value) {
  return value ? String(value).replaceAll("_", " ") : "";
}

export const me = {
  principalId: document.body.dataset.principalId,
  role: document.body.dataset.role,
  country: document.body.dataset.country,
  agencyId: document.body.dataset.agencyId,
};

// TLP 2.0: the label's colour on black, as the standard draws it.
export function tlpBadge(code) {
  const name = String(code).toLowerCase().replace("+", "-");
  return el("span", { class: `tlp tlp-${name}`, title: `Traffic Light Protocol ${code}` }, `TLP:${code}`);
}

// A readiness drill (app/drills/): said on every screen that shows a request, first.
export function drillBadge(request) {
  if (!request.drill_id) return [];
  return [el("span", { class: "flag drill", title: "A readiness drill, not a real request: acknowledge it" }, "DRILL"), " "];
}

export function time(value) {
  if (!value) return "";
  const date = new Date(value);
  return el("time", { datetime: date.toISOString(), title: date.toISOString() }, date.toLocaleString());
}

// "in 4 min 12 s" or "5 min ago"; and how near: ok, amber (last quarter of its time), red (passed).
export function countdown(dueIso, sinceIso, now = Date.now()) {
  const due = Date.parse(dueIso);
  const since = sinceIso ? Date.parse(sinceIso) : due;
  const left = due - now;
  const span = Math.max(due - since, 1);
  const level = left <= 0 ? "red" : left <= span / 4 ? "amber" : "ok";
  return { text: left <= 0 ? `passed ${duration(-left)} ago` : `in ${duration(left)}`, level };
}

export function duration(ms) {
  let seconds = Math.floor(ms / 1000);
  const days = Math.floor(seconds / 86400);
  seconds -= days * 86400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  if (days) return `${days} d ${hours} h`;
  if (hours) return `${hours} h ${minutes} min`;
  if (minutes) return `${minutes} min ${seconds} s`;
  return `${seconds} s`;
}
