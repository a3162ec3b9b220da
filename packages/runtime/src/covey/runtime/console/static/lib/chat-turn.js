// One turn of a conversation: what the person sent, and the run that answered, drawn from the
// run's events as they arrive (or from a stored run). A team's member runs and a workflow's
// steps nest inside it as collapsible groups; each tool call is a collapsible block with its
// arguments, result or error, and duration; a paused run shows its requirements as a form.
import { h, replace } from "./dom.js";
import { badge, duration, errorBox, json, number } from "./ui.js";
import { renderMarkdown } from "./markdown.js";

const KIND_OF = { image: "image", audio: "audio", video: "video", document: "file" };

/** "12.3 KB" */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A content part's size in bytes, from its base64 data. */
const partSize = (part) => (typeof part.data === "string" ? Math.floor((part.data.length * 3) / 4) : null);

/** The person's message: its text, and a chip per attached file. */
export function userMessage(input) {
  const parts = Array.isArray(input) ? input : [input];
  const texts = [];
  const chips = [];
  for (const part of parts) {
    if (part === null || part === undefined) continue;
    if (typeof part === "string") texts.push(part);
    else if (part.kind === "text") texts.push(part.text);
    else if (KIND_OF[part.kind]) {
      const size = partSize(part);
      chips.push(h("li", { class: "chat-chip" },
        h("span", { class: "chat-chip-kind" }, KIND_OF[part.kind]), " ",
        part.filename || part.media_type || part.url || part.kind,
        size !== null ? h("span", { class: "muted" }, ` · ${bytes(size)}`) : null));
    } else texts.push(JSON.stringify(part));
  }
  return h("div", { class: "chat-user" },
    h("span", { class: "chat-who" }, "You"),
    texts.length ? h("div", { class: "chat-user-text" }, texts.join("\n")) : null,
    chips.length ? h("ul", { class: "chat-chips", "aria-label": "Attachments" }, chips) : null);
}

function usageLine(usage) {
  if (!usage) return null;
  const bits = [`${number(usage.input_tokens || 0)} tokens in`, `${number(usage.output_tokens || 0)} out`];
  if (usage.reasoning_tokens) bits.push(`${number(usage.reasoning_tokens)} reasoning`);
  if (usage.cache_read_tokens) bits.push(`${number(usage.cache_read_tokens)} cached`);
  if (usage.requests) bits.push(`${number(usage.requests)} model request${usage.requests === 1 ? "" : "s"}`);
  if (usage.tool_calls) bits.push(`${number(usage.tool_calls)} tool call${usage.tool_calls === 1 ? "" : "s"}`);
  return h("p", { class: "chat-usage muted" }, bits.join(" · "));
}

/** Structured output: a definition list for a flat object, pretty JSON otherwise. */
export function structured(output) {
  const entries = Object.entries(output);
  const flat = entries.length && entries.every(([, v]) => v === null || typeof v !== "object");
  return h("div", { class: "chat-output" },
    h("span", { class: "chat-output-label muted" }, "Structured output"),
    flat
      ? h("dl", { class: "chat-dl" }, entries.map(([k, v]) => [h("dt", null, k), h("dd", null, String(v))]))
      : json(output));
}

function isJson(source) {
  try {
    return typeof JSON.parse(source) === "object";
  } catch {
    return false;
  }
}

const text = (value) => (typeof value === "string" ? value : JSON.stringify(value, null, 2));

/** A tool call: name and state in the summary; arguments, result, error and duration inside. */
class ToolBlock {
  constructor(name, args) {
    this.state = badge("running");
    this.took = h("span", { class: "muted" });
    this.body = h("div", { class: "chat-tool-body" });
    this.el = h("details", { class: "chat-tool" },
      h("summary", null, h("span", { class: "chat-tool-icon", "aria-hidden": "true" }, "⚙"), " ",
        h("span", { class: "chat-tool-name mono" }, name), " ", this.state, " ", this.took),
      this.body);
    this.setArgs(args);
  }

  setArgs(args) {
    replace(this.body, h("div", { class: "chat-tool-part" }, h("span", { class: "muted" }, "Arguments"),
      h("pre", { class: "json" }, JSON.stringify(args || {}, null, 2))));
  }

  setState(status, seconds) {
    this.state.replaceWith((this.state = badge(status)));
    if (seconds !== undefined && seconds !== null) this.took.textContent = duration(seconds);
  }

  done(result, seconds) {
    this.setState("completed", seconds);
    this.body.append(h("div", { class: "chat-tool-part" }, h("span", { class: "muted" }, "Result"),
      h("pre", { class: "json" }, text(result))));
  }

  failed(error, seconds, retry) {
    this.setState("failed", seconds);
    this.body.append(h("div", { class: "chat-tool-part chat-tool-error" },
      h("span", { class: "muted" }, retry ? "Error (the model is asked to retry)" : "Error"),
      h("pre", { class: "json" }, error)));
  }
}

/**
 * One run's view (the turn's own run, or a member's or a step's run nested in it). Its body
 * gets blocks in the order events arrive: thinking, text, tool calls, nested runs, steps.
 */
export class RunView {
  constructor(turn, body, runId) {
    this.turn = turn;
    this.body = body;
    this.runId = runId;
    this.tools = new Map();
    this.text = null; // {el, source, cache}: the answer being streamed
    this.thinking = null;
    this.texts = 0;
    this.status = null;
  }

  place(node) {
    this.body.append(node);
    return node;
  }

  breakText() {
    this.text = null;
    this.thinking = null;
  }

  addText(delta) {
    this.thinking = null;
    if (!this.text) {
      this.text = { el: this.place(h("div", { class: "chat-answer" })), source: "", cache: {} };
      this.texts++;
    }
    this.text.source += delta;
    renderMarkdown(this.text.el, this.text.source, this.text.cache);
  }

  addThinking(delta) {
    if (!this.thinking) {
      const pre = h("div", { class: "chat-thinking-text" });
      this.thinking = { pre, source: "" };
      this.place(h("details", { class: "chat-thinking" }, h("summary", null, "Thinking"), pre));
    }
    this.thinking.source += delta;
    this.thinking.pre.textContent = this.thinking.source;
  }

  tool(id, name, args) {
    let block = this.tools.get(id);
    if (!block) {
      this.breakText();
      block = new ToolBlock(name, args);
      this.tools.set(id, block);
      this.place(block.el);
    } else if (args) block.setArgs(args);
    return block;
  }

  note(message, kind = "muted") {
    this.breakText();
    this.place(h("p", { class: ["chat-note", kind] }, message));
  }

  /** The run ended: its output (when no text was streamed), error, usage. */
  finish(result, { top }) {
    this.breakText();
    this.status = result.status;
    const output = result.output;
    if (output !== null && output !== undefined && !(top && typeof output === "string" && this.texts)) {
      if (typeof output === "string") {
        if (!this.texts) this.addText(output);
      } else if (typeof output === "object" && !Array.isArray(output)) {
        // A model in JSON mode streamed the output as text: the fields below replace it.
        for (const el of this.body.querySelectorAll(":scope > .chat-answer")) {
          if (isJson(el.textContent)) el.remove();
        }
        this.place(structured(output));
      }
      else this.place(json(output));
    }
    this.breakText();
    if (result.error) {
      this.place(errorBox({ problem: { title: result.error.type, detail: result.error.message } }));
    }
    if (top) this.place(usageLine(result.usage));
  }
}

const LABELS = { step: "Step", member: "Member run", run: "Run" };

/** A collapsible group nested in a run (a member run, or a workflow step). */
function group(kind, title) {
  const state = badge("running");
  const body = h("div", { class: "chat-group-body" });
  const el = h("details", { class: ["chat-group", `chat-${kind}`], open: true },
    h("summary", null, h("span", { class: "chat-group-kind muted" }, LABELS[kind]), " ",
      h("strong", null, title), " ", state),
    body);
  let current = state;
  return {
    el, body,
    set(status) {
      const next = badge(status);
      current.replaceWith(next);
      current = next;
    },
  };
}

/**
 * A turn: the person's message and the run answering it. `apply(event)` draws one event;
 * `onPaused(requirements)` is called when the turn's run pauses, `onSession(id)` when it
 * learns its session, `onRun(id)` when it learns its run id.
 */
export class Turn {
  constructor(input, { onPaused, onSession, onRun } = {}) {
    this.onPaused = onPaused;
    this.onSession = onSession;
    this.onRun = onRun;
    this.runId = null;
    this.views = new Map(); // run_id -> RunView
    this.steps = new Map(); // step_run_id -> group, step_path -> group
    this.answer = h("div", { class: "chat-assistant" });
    this.status = h("span", { class: "chat-status" });
    this.extra = h("div", { class: "chat-extra" });
    this.el = h("article", { class: "chat-turn" },
      input === undefined ? null : userMessage(input),
      h("div", { class: "chat-reply" },
        h("div", { class: "chat-reply-head" }, h("span", { class: "chat-who" }, "Assistant"), " ", this.status),
        this.answer, this.extra));
    this.top = new RunView(this, this.answer, null);
    this.setStatus("running");
  }

  setStatus(status) {
    replace(this.status, badge(status));
  }

  /** Follow the stored run `runId` (re-attaching to it): its events draw into this turn. */
  attach(runId) {
    this.runId = runId;
    this.top.runId = runId;
    this.views.set(runId, this.top);
  }

  /** The view of `runId`, made (nested under its parent or step) on its first event. */
  view(event) {
    const id = event.run_id;
    if (!this.runId && !event.parent_run_id) {
      this.runId = id;
      this.top.runId = id;
      this.views.set(id, this.top);
      if (this.onRun) this.onRun(id);
    }
    let view = this.views.get(id);
    if (view) return view;
    const step = this.steps.get(id);
    const parent = this.views.get(event.parent_run_id) || this.top;
    const g = group(step ? "run" : "member", event.agent_name || "member");
    if (step) step.body.append(g.el);
    else {
      parent.breakText();
      parent.place(g.el);
    }
    view = new RunView(this, g.body, id);
    view.group = g;
    this.views.set(id, view);
    return view;
  }

  /** Draw one run event (an SSE message's `data`). */
  apply(e) {
    if (!e || typeof e !== "object" || !e.type || !e.run_id) return;
    const view = this.view(e);
    const top = view === this.top;
    switch (e.type) {
      case "run.started":
        if (top && e.session_id && this.onSession) this.onSession(e.session_id);
        if (top) this.setStatus("running");
        else if (view.group) view.group.set("running");
        break;
      case "text.delta": view.addText(e.delta); break;
      case "thinking.delta": view.addThinking(e.delta); break;
      case "model_request.started": view.breakText(); break;
      case "model_request.retry":
        view.note(`The model request failed (${e.error?.message || e.error?.type}); retrying in ${duration(e.delay)}.`);
        break;
      case "model.fallback": view.note(`${e.from_model} failed; ${e.to_model} takes over.`); break;
      case "model_request.failed":
        view.note(`The model request failed: ${e.error?.message || e.error?.type}`, "chat-bad");
        break;
      case "output.retry": view.note(`The structured output did not validate; the model tries again.`); break;
      case "tool_call.started": view.tool(e.tool_call_id, e.tool_name, e.args).setState("running"); break;
      case "tool_call.completed": view.tool(e.tool_call_id, e.tool_name).done(e.result, e.duration); break;
      case "tool_call.failed": view.tool(e.tool_call_id, e.tool_name).failed(e.error, e.duration, e.retry); break;
      case "tool_call.cancelled": view.tool(e.tool_call_id, e.tool_name).setState("cancelled"); break;
      case "tool_call.paused": view.tool(e.tool_call_id, e.tool_name).setState("waiting"); break;
      case "requirement.created":
        if (e.requirement?.kind === "approval") {
          view.tool(e.requirement.tool_call_id, e.requirement.tool_name, e.requirement.args).setState("waiting");
        }
        break;
      case "step.started": {
        const g = group("step", e.step_name || e.step_path);
        view.breakText();
        view.place(g.el);
        this.steps.set(`path:${e.step_path}`, g);
        if (e.step_run_id) this.steps.set(e.step_run_id, g);
        break;
      }
      case "step.completed": case "step.failed": case "step.skipped": case "step.paused": case "step.cancelled": {
        const g = this.steps.get(`path:${e.step_path}`);
        if (!g) break;
        g.set(e.type.slice(5));
        if (e.type === "step.completed" && !e.step_run_id && e.output !== null && e.output !== undefined) {
          g.body.append(typeof e.output === "object" ? json(e.output) : h("p", null, String(e.output)));
        }
        if (e.type === "step.failed") g.body.append(errorBox({ problem: { title: e.error?.type, detail: e.error?.message } }));
        break;
      }
      case "guardrail.tripped":
        view.place(h("div", { class: "error-box", role: "alert" },
          h("strong", null, `Guardrail ${e.guardrail || ""} stopped the run`.replace("  ", " ")),
          h("p", null, `${e.stage ? `${e.stage}: ` : ""}${e.reason}`)));
        break;
      case "run.completed": case "run.failed": case "run.cancelled": case "run.paused": {
        const status = e.type.slice(4);
        if (!top) {
          if (view.group) view.group.set(status);
          if (e.type !== "run.paused") view.finish(e.result || {}, { top: false });
          break;
        }
        this.setStatus(status);
        if (e.type === "run.paused") {
          if (this.onPaused) this.onPaused(e.result?.requirements || []);
        } else {
          view.finish(e.result || {}, { top: true });
          if (e.type === "run.cancelled") view.note("Cancelled.");
        }
        break;
      }
      default: break; // learning.*, tool_call.delta, output.delta, model_request.completed
    }
  }

  /** Draw a stored run (RunOut) that is no longer running. */
  fromRun(run) {
    this.attach(run.run_id);
    for (const call of run.tool_calls || []) {
      const block = this.top.tool(call.tool_call_id, call.tool_name, call.args);
      if (call.error) block.failed(call.error, call.duration);
      else block.done(call.result, call.duration);
    }
    this.setStatus(run.status);
    if (run.status === "paused") {
      for (const r of run.requirements || []) {
        if (r.kind === "approval" && !r.run_id) this.top.tool(r.tool_call_id, r.tool_name, r.args).setState("waiting");
      }
      if (this.onPaused) this.onPaused(run.requirements || []);
    } else this.top.finish(run, { top: true });
  }

  /** An error that ended the turn's stream (an ApiError's problem, a network failure). */
  fail(error) {
    this.setStatus("failed");
    this.extra.append(errorBox(error));
  }
}
