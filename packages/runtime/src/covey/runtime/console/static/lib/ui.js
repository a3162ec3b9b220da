// Shared pieces of the console's screens: tables, badges, dialogs, toasts, formatting.
// Everything is built with `h` (text nodes only), labelled for screen readers, keyboard-usable.
import { h, replace } from "./dom.js";

/** A link inside the console (the router handles clicks on it). */
export const link = (path, ...children) => h("a", { href: `/console/${path.replace(/^\//, "")}` }, ...children);

/** A screen's heading row: title, optional subtitle and actions on the right. */
export function header(title, { subtitle, actions } = {}) {
  return h("div", { class: "page-header" },
    h("div", null, h("h1", null, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    actions ? h("div", { class: "actions" }, actions) : null);
}

/** A button. `kind`: "primary", "danger", "ghost" or nothing. */
export const button = (label, onclick, { kind, type = "button", ...props } = {}) =>
  h("button", { type, class: ["btn", kind], onclick, ...props }, label);

/** A status badge (`completed`, `failed`, `running`, `paused`, `cancelled`, ...). */
export const badge = (status) => h("span", { class: ["badge", `status-${String(status).replace(/[^a-z_-]/gi, "")}`] }, String(status));

/**
 * A table: `columns` = [{label, value: row => node|text, class?}], `rows` = objects.
 * `onRow(row)` makes rows clickable (and focusable: Enter opens them).
 */
export function table(columns, rows, { onRow, empty = "Nothing here yet.", label } = {}) {
  if (!rows.length) return emptyState(empty);
  const body = rows.map((row) =>
    h("tr", onRow ? {
      tabindex: 0, class: "clickable",
      onclick: (e) => { if (!e.target.closest("a,button,input,select,textarea")) onRow(row); },
      onkeydown: (e) => { if (e.key === "Enter" && e.target === e.currentTarget) onRow(row); },
    } : null, columns.map((c) => h("td", { class: c.class, "data-label": c.label }, c.value(row)))));
  return h("div", { class: "table-wrap" },
    h("table", { class: "table", "aria-label": label },
      h("thead", null, h("tr", null, columns.map((c) => h("th", { scope: "col", class: c.class }, c.label)))),
      h("tbody", null, body)));
}

/** "Load more" for cursor-paged listings: `load(cursor)` resolves to the next cursor. */
export function pager(cursor, load) {
  if (!cursor) return null;
  const more = button("Load more", async () => {
    more.disabled = true;
    const next = await load(cursor);
    more.replaceWith(pager(next, load) || "");
  }, { kind: "ghost", class: "btn ghost pager" });
  return more;
}

export const emptyState = (text) => h("p", { class: "empty muted" }, text);

export const spinner = (label = "Loading…") => h("p", { class: "loading muted", role: "status" }, label);

/** An error box for a failed call (an ApiError's problem: title, detail, field errors). */
export function errorBox(error) {
  const problem = (error && error.problem) || {};
  const lines = (problem.errors || []).map((e) => h("li", null, `${(e.loc || []).join(".") || e.key || ""} ${e.message || e.msg || ""}`.trim()));
  return h("div", { class: "error-box", role: "alert" },
    h("strong", null, problem.title || error.message || String(error)),
    problem.detail && problem.detail !== problem.title ? h("p", null, problem.detail) : null,
    lines.length ? h("ul", null, lines) : null);
}

/** Show `text` for a few seconds. `kind`: "ok", "error". */
export function toast(text, kind = "ok") {
  const box = document.getElementById("toasts");
  const item = h("div", { class: ["toast", kind] }, text);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

/** A modal question; resolves true/false (Escape and Cancel: false). */
export function confirmDialog(question, { confirm = "Confirm", danger = false } = {}) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "dialog", "aria-label": question },
      h("form", { method: "dialog" },
        h("p", null, question),
        h("div", { class: "actions" },
          h("button", { class: "btn ghost", value: "cancel" }, "Cancel"),
          h("button", { class: ["btn", danger ? "danger" : "primary"], value: "ok" }, confirm))));
    dialog.addEventListener("close", () => { resolve(dialog.returnValue === "ok"); dialog.remove(); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A labelled form field around `control` (an input, select or textarea built with `h`). */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hint ? h("small", { class: "muted" }, hint) : null);
}

/** Collapsible pretty JSON. */
export function json(value, { summary, open = false } = {}) {
  const pre = h("pre", { class: "json" }, JSON.stringify(value, null, 2));
  return summary ? h("details", { class: "json-details", open }, h("summary", null, summary), pre) : pre;
}

/** "3 s", "1.2 min", "2.5 h" from seconds. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** Seconds between two ISO times (to `now` when `end` is missing). */
export const between = (start, end) => (start ? ((end ? Date.parse(end) : Date.now()) - Date.parse(start)) / 1000 : null);

/** A local date-time, with the ISO time as its tooltip. */
export function time(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return h("time", { datetime: iso, title: iso }, d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" }));
}

/** "1,234" */
export const number = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString());

/** "$0.0123" (cost in USD) */
export const money = (usd) => (usd === null || usd === undefined ? "–" : `$${Number(usd).toFixed(usd < 0.01 ? 4 : 2)}`);

/** A short id for tables, the whole id in its tooltip. */
export const shortId = (id) => h("span", { class: "mono", title: id }, id && id.length > 12 ? `${id.slice(0, 8)}…` : id);

/** Render `promise`'s result into `root` with a spinner meanwhile and an error box on failure. */
export async function load(root, promise, render) {
  replace(root, spinner());
  try {
    const value = await promise;
    replace(root, render(value));
  } catch (error) {
    if (error.name === "AbortError") return;
    replace(root, errorBox(error));
  }
}

/** A search/filter toolbar: controls side by side, wrapping on narrow screens. */
export const toolbar = (...controls) => h("div", { class: "toolbar", role: "search" }, controls);

/** Tabs: [{id, label, render: () => node}] with ARIA roles and arrow-key navigation. */
export function tabs(items, selected = items[0].id) {
  const panel = h("div", { class: "tab-panel", role: "tabpanel" });
  const list = h("div", { class: "tabs", role: "tablist" });
  const select = (id) => {
    for (const tab of list.children) {
      const on = tab.dataset.id === id;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
    }
    replace(panel, items.find((i) => i.id === id).render());
  };
  for (const item of items) {
    list.append(h("button", {
      type: "button", role: "tab", class: "tab", dataset: { id: item.id },
      onclick: () => select(item.id),
      onkeydown: (e) => {
        const i = items.findIndex((x) => x.id === item.id);
        const next = e.key === "ArrowRight" ? items[(i + 1) % items.length] : e.key === "ArrowLeft" ? items[(i - 1 + items.length) % items.length] : null;
        if (next) { select(next.id); list.querySelector(`[data-id="${next.id}"]`).focus(); }
      },
    }, item.label));
  }
  select(selected);
  return h("div", { class: "tabbed" }, list, panel);
}
