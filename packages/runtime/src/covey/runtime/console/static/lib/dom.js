// DOM building without HTML strings: every text goes in as a text node, so nothing a model,
// a tool or a user wrote can ever become markup. The console never uses innerHTML.

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "Send"}, "Send", child, [more])
 * Props: `class`, `style` (object), `dataset` (object), `on<event>` (function), boolean
 * attributes (true/false), anything else as an attribute. Children: strings, numbers, nodes,
 * arrays of them; null/undefined/false are skipped.
 */
export function h(tag, props, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" && "value" in el) el.value = value;
    else if (key === "checked" && "checked" in el) el.checked = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Append children (see `h`) to `el`; returns `el`. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace everything inside `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/**
 * Make `children` the content of `el`, leaving in place every node that is already there: a
 * form kept across redraws is never detached, so a field being typed in keeps its focus and
 * its text.
 */
export function reconcile(el, ...children) {
  const wanted = [children].flat(Infinity)
    .filter((c) => c !== undefined && c !== null && c !== false)
    .map((c) => (c instanceof Node ? c : document.createTextNode(String(c))));
  const keep = new Set(wanted);
  for (const node of [...el.childNodes]) if (!keep.has(node)) node.remove();
  let cursor = el.firstChild;
  for (const node of wanted) {
    if (node === cursor) cursor = cursor.nextSibling;
    else el.insertBefore(node, cursor);
  }
  return el;
}

/** The first element matching `selector` under `root` (default: the document). */
export const $ = (selector, root = document) => root.querySelector(selector);
