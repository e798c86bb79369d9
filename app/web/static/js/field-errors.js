// The service's validation messages next to the field they concern. A 422 problem lists
// `errors`, each with the `field` it is about as a path ("ack_steps[0].steps[1].target",
// "starts_at"): a control carries the same path in data-field, and a message about a whole
// group ("ack_steps[0]") goes to the group's element. What names no field on the form is
// shown in the form's own problem box, never off-screen.

import { ApiError } from "./api.js";
import { el, fieldAt } from "./dom.js";

let counter = 0;

export function clearFieldErrors(form) {
  for (const message of form.querySelectorAll(".field-error")) message.remove();
  for (const control of form.querySelectorAll("[aria-invalid]")) {
    control.removeAttribute("aria-invalid");
    const described = (control.getAttribute("aria-describedby") ?? "").split(" ").filter((id) => id && !id.startsWith("field-error-"));
    if (described.length) control.setAttribute("aria-describedby", described.join(" "));
    else control.removeAttribute("aria-describedby");
  }
  const box = form.querySelector(".form-problem");
  if (box) {
    box.hidden = true;
    box.textContent = "";
  }
}

function mark(control, text) {
  const id = `field-error-${(counter += 1)}`;
  const message = el("p", { id, class: "field-error" }, text);
  const isControl = ["INPUT", "SELECT", "TEXTAREA"].includes(control.tagName);
  if (isControl) {
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
    control.insertAdjacentElement("afterend", message);
  } else {
    control.prepend(message);
  }
  return message;
}

// Show the problem at its fields; returns the first message placed (focus and scroll to it).
export function showFieldErrors(form, error) {
  clearFieldErrors(form);
  const problem = error instanceof ApiError ? error.problem : {};
  const unplaced = [];
  let first = null;
  for (const item of problem.errors ?? []) {
    const field = item.field ?? "";
    const control = field && field !== "body" ? fieldAt(form, field) : null;
    if (control) {
      const message = mark(control, item.message);
      first ??= control.matches("input, select, textarea") ? control : message;
    } else {
      unplaced.push(`${field}: ${item.message}`);
    }
  }
  const box = form.querySelector(".form-problem");
  if (box && (unplaced.length || !first)) {
    box.textContent = unplaced.length ? `${error.message} ${unplaced.join(" ")}` : error.message;
    box.hidden = false;
    first ??= box;
  }
  first?.scrollIntoView({ block: "center" });
  if (first?.matches("input, select, textarea")) first.focus();
  return first;
}
