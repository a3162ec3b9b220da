// Pieces shared by the sessions, runs, approvals and traces screens. A module of its own (not a
// block of ui.js) so the console's first load does not carry them: it loads with those screens.
import { h } from "./dom.js";
import { badge, duration, between, json, number } from "./ui.js";

/** The run statuses a filter offers (`RunStatus` on the server). */
export const RUN_STATUSES = ["running", "paused", "completed", "failed", "cancelled", "interrupted"];

/** A `<select>` of `options` ([value, label] or plain values), the empty value labelled `any`. */
export function selectBox(options, { value = "", any = "Any", ...props } = {}) {
  const select = h("select", props, any === null ? null : h("option", { value: "" }, any),
    options.map((o) => {
      const [v, label] = Array.isArray(o) ? o : [o, o];
      return h("option", { value: v, selected: v === value }, label);
    }));
  select.value = value;
  return select;
}

/** "123 in · 45 out" from a run's usage (or "–" when nothing was used). */
export function tokens(usage) {
  if (!usage) return "–";
  const total = (usage.input_tokens || 0) + (usage.output_tokens || 0);
  return total ? h("span", { title: `${number(usage.input_tokens)} in · ${number(usage.output_tokens)} out` }, number(total)) : "–";
}

/** A run's input as a person reads it: text, content parts (text and attachments), or JSON. */
export function runInput(input) {
  if (input === undefined || input === null) return h("span", { class: "muted" }, "–");
  if (typeof input === "string") return h("div", { class: "rv-text" }, input);
  if (Array.isArray(input)) {
    return h("div", { class: "rv-text" }, input.map((part) => {
      if (typeof part === "string") return part;
      if (part && part.kind === "text") return part.text;
      if (part && part.kind) return h("span", { class: "badge" }, `${part.kind}${part.name ? `: ${part.name}` : ""}`);
      return json(part);
    }));
  }
  return json(input);
}

/** A run's output: text as text, anything structured as JSON. */
export const runOutput = (output) =>
  output === undefined || output === null ? h("span", { class: "muted" }, "–")
    : typeof output === "string" ? h("div", { class: "rv-text" }, output) : json(output);

/** A run's tool calls, each collapsible with its arguments and result (or error). */
export function toolCalls(calls) {
  if (!calls || !calls.length) return null;
  return h("div", { class: "rv-tools" }, calls.map((call) =>
    h("details", { class: ["rv-tool", call.error ? "rv-tool-error" : null] },
      h("summary", null, h("span", { class: "mono" }, call.tool_name), " ",
        call.error ? badge("error") : null,
        call.duration ? h("span", { class: "muted" }, ` ${duration(call.duration)}`) : null),
      h("p", { class: "muted" }, "Arguments"), json(call.args || {}),
      call.error ? h("p", { class: "rv-error-text" }, call.error) : h("div", null, h("p", { class: "muted" }, "Result"), json(call.result)))));
}

/** How long a run ran: to its end, to now while it runs, unknown otherwise (paused, no end). */
export const runSeconds = (run) => (run.finished_at || run.status === "running" ? between(run.started_at, run.finished_at) : null);

/** A definition list of [label, value] pairs (values skipped when null). */
export const facts = (pairs) =>
  h("dl", { class: "rv-facts" }, pairs.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));

/** Run `tick` now and every `seconds` until `signal` aborts (or `isOn()` turns false). */
export function every(seconds, tick, signal, isOn = () => true) {
  const timer = setInterval(() => { if (isOn() && !document.hidden) tick(); }, seconds * 1000);
  signal.addEventListener("abort", () => clearInterval(timer));
  return timer;
}

/** Add the rows of `more` (a `table()` of the next page) to the table in `box` (or put it there). */
export function appendRows(box, more) {
  const body = box.querySelector("tbody");
  const extra = more.querySelector && more.querySelector("tbody");
  if (!extra) return;
  if (body) body.append(...extra.children);
  else {
    const empty = box.querySelector(".empty");
    if (empty) empty.replaceWith(more);
    else box.prepend(more);
  }
}
