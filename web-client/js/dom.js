// Small DOM helpers shared by the operator pages.

/** An element with a class and text (text, never HTML: names come from the server). */
export function h(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The school of a participant when its name does not already say it (classroom names do). */
export function schoolNotInName(p) {
  return p.school && !p.name.includes(p.school) ? p.school : '';
}

/** A participant as the operator pages name it: "school · name" unless the name has it. */
export function fullName(p) {
  const school = schoolNotInName(p);
  return school ? `${school} · ${p.name}` : p.name;
}
