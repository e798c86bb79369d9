// The public REST API, called as this signed-in person: the session cookie authenticates,
// and every state-changing call carries the page's CSRF token.

import { fieldAt } from "./dom.js";

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
export const SIGN_IN = "/web/sign-in";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `the service answered ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// onResponse sees the response first (a page that needs its ETag for an If-Match).
export async function api(path, { method = "GET", json, body, headers = {}, onResponse } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") init.headers["X-CSRF-Token"] = csrfToken;
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  const response = await fetch(path, init);
  onResponse?.(response);
  if (response.status === 401) {
    window.location.assign(SIGN_IN);
    throw new ApiError(401, { detail: "your session has ended: sign in again" });
  }
  if (!response.ok) {
    let problem = {};
    try {
      problem = await response.json();
    } catch {
      problem = { detail: `the service answered ${response.status}` };
    }
    throw new ApiError(response.status, problem);
  }
  return response.status === 204 ? null : response.json();
}

export function query(path, params = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, item);
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

// Every item of a cursor-paginated list, page after page (at most maxPages).
export async function allPages(path, params = {}, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < maxPages; page += 1) {
    const answer = await api(query(path, { ...params, cursor, limit: 100 }));
    items.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// Tell the person what went wrong, in the service's own words: in the page's problem box, or
// in the one next to the form that caused it.
export function showProblem(error, box = document.getElementById("problem")) {
  if (!box) return;
  const problem = error instanceof ApiError ? error.problem : {};
  const parts = [error.message];
  for (const item of problem.errors ?? []) {
    parts.push(`${(item.loc ?? item.field ?? []).toString()}: ${item.msg ?? item.detail ?? ""}`);
  }
  box.textContent = parts.join(" ");
  box.hidden = false;
}

export function clearProblem(box = document.getElementById("problem")) {
  if (box) box.hidden = true;
}

// An action's refusal shown where it was taken, not only in the page's banner at the top
// (off-screen on a long page): the action's container (its form, its row, its section) gets
// a problem box of its own (role=alert, read out at once), and each of the problem's
// `errors` marks its field (aria-invalid, described by the box). One mechanism for every
// page: `await attempt(container, async () => ...)`.
export async function attempt(container, work) {
  clearProblemAt(container);
  try {
    return await work();
  } catch (error) {
    showProblemAt(container, error);
    return undefined;
  }
}

export function showProblemAt(container, error) {
  let box = container.querySelector(":scope > .problem.at-action");
  if (!box) {
    box = document.createElement("p");
    box.className = "problem at-action";
    box.setAttribute("role", "alert");
    box.id = `${container.id || "action"}-problem-${Math.random().toString(36).slice(2, 8)}`;
    container.append(box);
  }
  showProblem(error, box);
  const problem = error instanceof ApiError ? error.problem : {};
  for (const item of problem.errors ?? []) {
    // By its path (as field-errors.js places messages), else by its last name alone.
    const name = [...(item.loc ?? [item.field])].reverse().find((part) => typeof part === "string");
    const field = fieldAt(container, item.field) ?? (name && container.querySelector(`[name="${CSS.escape(name)}"]`));
    if (!field?.matches("input, select, textarea")) continue;
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", [field.getAttribute("aria-describedby"), box.id].filter(Boolean).join(" "));
  }
}

export function clearProblemAt(container) {
  const box = container.querySelector(":scope > .problem.at-action");
  if (!box) return;
  for (const field of container.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    const rest = (field.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => id && id !== box.id);
    if (rest.length) field.setAttribute("aria-describedby", rest.join(" "));
    else field.removeAttribute("aria-describedby");
  }
  box.remove();
}
