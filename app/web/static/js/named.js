// A person as the service lets this reader know them (app/directory/person_refs.py): by name
// where the reader may see that person, else by role, agency and country; never a guess.

import { me, words } from "./dom.js";

export function named(person, { you = "you" } = {}) {
  if (!person) return "the service";
  if (person.id === me.principalId) return you;
  if (person.name) return person.name;
  return `${words(person.role)}, ${person.agency_name}${person.country ? ` (${person.country})` : ""}`;
}

// With the agency where the name alone would not say where they work.
export function namedAt(person, options = {}) {
  const name = named(person, options);
  return person?.name && person.id !== me.principalId ? `${name}, ${person.agency_name}` : name;
}

// "03:40": the time of day an upcoming step fires, short enough to read at a glance.
export function clock(value) {
  return new Date(value).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
