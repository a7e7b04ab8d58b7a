// Tiny DOM helpers: build elements without innerHTML, so no server text is ever parsed as HTML.

export function el(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const byId = (id) => document.getElementById(id);

const pad2 = (n) => String(n).padStart(2, "0");

/** HH:MM:SS of an epoch-ms time in the viewer's zone; an en dash when unknown. */
export function clock(ms) {
  if (!ms) return "\u2013";
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export function stateLabel(state) {
  return String(state ?? "").replaceAll("_", " ");
}

export function badge(state) {
  return el("span", { class: "badge", "data-state": state, "data-testid": "state" }, stateLabel(state));
}

export function sideTag(side) {
  return el("span", { class: `side-tag ${side}` }, side ? side.toUpperCase() : "\u2013");
}

/** An order id short enough for a table cell ("order-51dd7160…"); the full id goes in a title. */
export function shortId(id) {
  const text = String(id ?? "");
  return text.length > 16 ? `${text.slice(0, 14)}\u2026` : text;
}

export function idCell(id) {
  return el("td", { class: "id", title: id }, shortId(id));
}
