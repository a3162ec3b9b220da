// Runs: a live list (status, agent, user, started, duration, tokens, cost) with filters and
// auto-refresh, and one run: its header, parent and child runs, cost, output, the event
// timeline (replayed from the store, then followed live while the run runs: re-attaching is
// just opening the page), Cancel and Resume. Only the public API: /v1/runs, /v1/costs.
import { h, append, reconcile, replace } from "../lib/dom.js";
import {
  header, button, badge, table, pager, spinner, errorBox, toast, confirmDialog, field, json,
  duration, time, money, shortId, link, toolbar,
} from "../lib/ui.js";
import {
  runSeconds, selectBox, tokens, runInput, runOutput, toolCalls, facts, every, RUN_STATUSES,
  appendRows,
} from "../lib/runsview.js";

const REFRESH_SECONDS = 3;
const FINAL = new Set(["run.completed", "run.failed", "run.cancelled", "run.paused"]);
const DELTAS = new Set(["text.delta", "thinking.delta", "tool_call.delta", "output.delta"]);

export default async function render(ctx) {
  if (ctx.params.id) return renderRun(ctx, ctx.params.id);
  return renderList(ctx);
}

// --- the list -------------------------------------------------------------------------------

/** A page of runs, newest first (`GET /v1/runs`). */
const listRuns = (api, params, signal) => api.get("/v1/runs", params, signal);

async function renderList({ root, api, allows, query, signal, setTitle }) {
  setTitle("Runs");
  const status = selectBox(RUN_STATUSES, { value: query.get("status") || "", name: "status", any: "Any status" });
  const agent = h("input", { type: "text", name: "agent", value: query.get("agent") || "", list: "rv-agents", placeholder: "any agent" });
  const agents = h("datalist", { id: "rv-agents" });
  const topLevel = h("input", { type: "checkbox", name: "top_level", checked: query.get("all") !== "1" });
  const auto = h("input", { type: "checkbox", name: "auto", checked: true });
  const results = h("div", { class: "rv-results" }, spinner());
  const note = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  append(root, [
    header("Runs", { subtitle: "Every run, newest first; refreshed while this screen is open.", actions: [button("Refresh", () => reload(), { kind: "ghost" })] }),
    h("form", { onsubmit: (e) => { e.preventDefault(); reload(); } },
      toolbar(field("Status", status), field("Agent", agent), agents,
        h("label", { class: "rv-check" }, topLevel, " Top-level runs only"),
        h("label", { class: "rv-check" }, auto, ` Auto-refresh (${REFRESH_SECONDS} s)`),
        button("Filter", null, { type: "submit" }))),
    note, results]);
  for (const control of [status, topLevel]) control.addEventListener("change", () => reload());
  agent.addEventListener("change", () => reload());
  if (allows("agents:read")) {
    Promise.allSettled(["agents", "teams", "workflows"].map((k) => api.get(`/v1/${k}`, null, signal))).then((lists) => {
      for (const r of lists) {
        if (r.status !== "fulfilled") continue;
        for (const item of r.value.items || r.value) append(agents, h("option", { value: item.agent_id || item.team_id || item.workflow_id || item.name }));
      }
    });
  }

  const columns = [
    { label: "Run", value: (r) => link(`runs/${encodeURIComponent(r.run_id)}`, shortId(r.run_id)) },
    { label: "Status", value: (r) => badge(r.status) },
    { label: "Agent", value: (r) => r.agent_id || "–" },
    { label: "User", value: (r) => r.user_id || "–" },
    { label: "Started", value: (r) => time(r.started_at || r.created_at) },
    { label: "Duration", value: (r) => duration(runSeconds(r)), class: "num" },
    { label: "Tokens", value: (r) => tokens(r.usage), class: "num" },
    // A run that has not asked a model yet has no cost to show, not a cost of zero.
    { label: "Cost", value: (r) => (r.usage && r.usage.requests ? money(r.cost_usd) : "–"), class: "num" },
  ];
  const params = (cursor) => ({ status: status.value, agent_id: agent.value.trim(), top_level: topLevel.checked ? "true" : "", limit: 50, cursor });
  const rows = (items) => table(columns, items, { label: "Runs", empty: "No runs match." });
  let busy = false;
  let extended = false; // "Load more" was used: auto-refresh would drop the pages loaded

  async function reload({ quiet = false } = {}) {
    if (busy) return;
    busy = true;
    const search = new URLSearchParams();
    if (status.value) search.set("status", status.value);
    if (agent.value.trim()) search.set("agent", agent.value.trim());
    if (!topLevel.checked) search.set("all", "1");
    history.replaceState(null, "", `/console/runs${search.toString() ? `?${search}` : ""}`);
    if (!quiet) replace(results, spinner());
    try {
      const page = await listRuns(api, params(null), signal);
      // A quiet refresh leaves the table alone while someone is working in it or has paged on.
      if (quiet && (extended || results.contains(document.activeElement))) return;
      extended = false;
      const more = (cursor) => listRuns(api, params(cursor), signal).then((next) => {
        extended = true;
        appendRows(results, rows(next.items));
        return next.next_cursor;
      });
      replace(results, rows(page.items), pager(page.next_cursor, more));
      note.textContent = `${page.items.length} run${page.items.length === 1 ? "" : "s"} · updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (error.name !== "AbortError") replace(results, errorBox(error));
    } finally {
      busy = false;
    }
  }
  every(REFRESH_SECONDS, () => reload({ quiet: true }), signal, () => auto.checked);
  await reload();
}

// --- one run --------------------------------------------------------------------------------

const clip = (text, n = 160) => {
  const s = typeof text === "string" ? text : JSON.stringify(text);
  return s === undefined ? "" : s.length > n ? `${s.slice(0, n)}…` : s;
};

/** One line saying what an event is about. */
function gist(type, d) {
  switch (type) {
    case "run.started": return d.resumed ? "resumed" : clip(d.input);
    case "run.completed": return clip(d.output !== undefined ? d.output : d.result && d.result.output);
    case "run.failed": return clip((d.error && d.error.message) || (d.result && d.result.error && d.result.error.message) || "");
    case "model_request.started": return `${d.model_name} (step ${d.step})`;
    case "model_request.completed": return `${d.model_name} · ${((d.usage && d.usage.input_tokens) || 0) + ((d.usage && d.usage.output_tokens) || 0)} tokens`;
    case "model_request.failed": case "model_request.retry": return clip(d.error && d.error.message);
    case "tool_call.started": return `${d.tool_name}(${clip(d.args, 120)})`;
    case "tool_call.completed": return `${d.tool_name} → ${clip(d.result, 120)}`;
    case "tool_call.failed": return `${d.tool_name}: ${clip(d.error, 120)}`;
    case "tool_call.paused": case "tool_call.cancelled": return d.tool_name || "";
    case "requirement.created": return d.requirement ? `${d.requirement.kind}: ${d.requirement.tool_name}` : "";
    default: return d.step_name || d.name || d.learner || "";
  }
}

/** An event's time: the clock time, with the date too unless it is today; the ISO time on hover. */
function eventTime(iso) {
  const at = new Date(iso);
  const today = at.toDateString() === new Date().toDateString();
  const text = today ? at.toLocaleTimeString() : at.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
  return h("time", { datetime: iso, title: iso }, text);
}

function timeline(runId) {
  const list = h("ol", { class: "rv-timeline", "aria-label": "Events" });
  let last = null; // the open delta row: consecutive deltas of one run share a row
  let count = 0;
  const add = (message) => {
    const d = message.data && typeof message.data === "object" ? message.data : { value: message.data };
    const type = d.type || message.event;
    count += 1;
    if (DELTAS.has(type) && last && last.type === type && last.runId === d.run_id) {
      last.text += d.delta || d.args_delta || "";
      last.n += 1;
      last.gist.textContent = clip(last.text, 240);
      last.label.textContent = `${type} ×${last.n}`;
      last.events.push(d);
      last.pre.textContent = JSON.stringify(last.events, null, 2);
      return;
    }
    const member = d.run_id && d.run_id !== runId;
    const label = h("span", { class: "rv-event-type mono" }, type);
    const text = h("span", { class: "rv-event-gist" }, DELTAS.has(type) ? clip(d.delta || d.args_delta || d.output || "", 240) : gist(type, d));
    const pre = h("pre", { class: "json" }, JSON.stringify(d, null, 2));
    const row = h("li", { class: ["rv-event", member ? "rv-event-member" : null, `rv-event-${type.split(".")[0]}`] },
      h("details", null,
        h("summary", null,
          h("span", { class: "rv-seq mono", title: "seq" }, d.seq !== undefined && !member ? String(d.seq) : message.id || "·"),
          h("span", { class: "rv-event-time muted" }, d.time ? eventTime(d.time) : ""),
          label, member ? h("span", { class: "badge" }, d.agent_name || shortId(d.run_id)) : null, text),
        pre));
    list.append(row);
    last = DELTAS.has(type) ? { type, runId: d.run_id, text: d.delta || d.args_delta || "", n: 1, gist: text, label, pre, events: [d] } : null;
  };
  return { list, add, count: () => count };
}

function resumeForm(run, onDone, api, signal) {
  const controls = [];
  const items = run.requirements.map((req) => {
    const note = h("textarea", { rows: 2, name: `note-${req.tool_call_id}` });
    const box = h("fieldset", { class: "rv-requirement" },
      h("legend", null, `${req.kind}: `, h("span", { class: "mono" }, req.tool_name)),
      req.description ? h("p", null, req.description) : null,
      json(req.args || {}));
    if (req.kind === "approval") {
      const decision = selectBox([["approve", "Approve"], ["reject", "Reject"]], { value: "approve", any: null });
      append(box, [field(`Decision on ${req.tool_name}`, decision), field("Note", note)]);
      controls.push((body) => { body.approvals[req.tool_call_id] = { approved: decision.value === "approve", note: note.value.trim() || null }; });
    } else if (req.kind === "input") {
      const inputs = req.input_fields.map((name) => [name, h("input", { type: "text", name })]);
      append(box, inputs.map(([name, input]) => field(name, input)));
      controls.push((body) => { body.inputs[req.tool_call_id] = Object.fromEntries(inputs.map(([name, input]) => [name, input.value])); });
    } else {
      const result = h("textarea", { rows: 3, name: `result-${req.tool_call_id}` });
      append(box, field(`Result of ${req.tool_name} (JSON or text)`, result));
      controls.push((body) => {
        try { body.results[req.tool_call_id] = JSON.parse(result.value); } catch { body.results[req.tool_call_id] = result.value; }
      });
    }
    return box;
  });
  const problem = h("div");
  const submit = button("Resume run", null, { kind: "primary", type: "submit" });
  return h("form", {
    class: "card rv-resume", "aria-label": "Resume",
    onsubmit: async (e) => {
      e.preventDefault();
      const body = { approvals: {}, inputs: {}, results: {}, background: true };
      for (const put of controls) put(body);
      submit.disabled = true;
      try {
        await api.post(`/v1/runs/${encodeURIComponent(run.run_id)}/resume`, body, signal);
        toast("Resumed: the run goes on.");
        onDone();
      } catch (error) {
        submit.disabled = false;
        replace(problem, errorBox(error));
      }
    },
  }, h("h2", null, "Waiting for a decision"), items, problem, submit);
}

async function renderRun({ root, api, me, allows, signal, setTitle }, id) {
  setTitle(`Run ${id}`);
  const enc = encodeURIComponent(id);
  const head = h("div", null, spinner());
  const extra = h("div");
  const live = h("p", { class: "muted rv-live", role: "status", "aria-live": "polite" });
  const events = timeline(id);
  append(root, [head, extra, h("h2", null, "Events"), live, events.list]);

  let run = null;
  let lastSeq = 0;
  let following = false;
  const cost = h("span", null, "…");
  const children = h("span", null, "…");

  async function refresh() {
    try {
      run = await api.get(`/v1/runs/${enc}`, null, signal);
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(head, header("Run"), errorBox(error), h("p", null, link("runs", "Back to runs")));
      replace(extra);
      return;
    }
    drawHead();
  }

  // The resume form outlives redraws of the page while the run waits on the same requirements,
  // so what a person typed is never wiped by a refresh.
  let resume = { key: null, node: null };
  function resumeBox(canWrite) {
    if (!(run.status === "paused" && run.requirements.length && canWrite)) {
      resume = { key: null, node: null };
      return null;
    }
    const key = run.requirements.map((r) => r.tool_call_id).join(" ");
    if (resume.key !== key) resume = { key, node: resumeForm(run, () => { refresh().then(attach); }, api, signal) };
    return resume.node;
  }

  function drawHead() {
    const canWrite = allows("runs:write");
    const stoppable = run.status === "running" || run.status === "paused";
    const actions = [
      me && me.features && me.features.traces && !run.parent_run_id ? link(`traces/${enc}`, "Trace") : null,
      canWrite && stoppable ? button("Cancel run", cancel, { kind: "danger", disabled: run.cancel_requested }) : null,
    ];
    replace(head,
      header(h("span", null, "Run ", h("span", { class: "mono" }, id.length > 16 ? `${id.slice(0, 8)}…` : id), " ", badge(run.status)), { actions }),
      facts([
        ["Run id", h("span", { class: "mono" }, run.run_id)],
        ["Agent", run.agent_id],
        ["Session", run.session_id ? link(`sessions/${encodeURIComponent(run.session_id)}`, shortId(run.session_id)) : null],
        ["User", run.user_id],
        ["Parent run", run.parent_run_id ? link(`runs/${encodeURIComponent(run.parent_run_id)}`, shortId(run.parent_run_id)) : null],
        ["Child runs", children],
        ["Started", time(run.started_at || run.created_at)],
        ["Finished", run.finished_at ? time(run.finished_at) : null],
        ["Duration", duration(runSeconds(run))],
        ["Tokens", h("span", null, tokens(run.usage), ` (${run.usage.input_tokens} in · ${run.usage.output_tokens} out · ${run.usage.requests} requests)`)],
        ["Cost", cost],
        ["Cancel asked", run.cancel_requested && stoppable ? "yes: the run stops at its next step" : null],
      ]));
    // Reconciled, not replaced: the resume form stays attached while someone types in it.
    reconcile(extra,
      "input" in run ? h("section", { class: "rv-section", "aria-label": "Input" }, h("h2", null, "Input"), runInput(run.input)) : null,
      run.error ? errorBox({ problem: { title: `${run.error.type}`, detail: run.error.message } }) : null,
      resumeBox(canWrite),
      run.tool_calls.length ? h("section", { class: "rv-section", "aria-label": "Tool calls" }, h("h2", null, "Tool calls"), toolCalls(run.tool_calls)) : null,
      run.output !== null && run.output !== undefined ? h("section", { class: "rv-section", "aria-label": "Output" }, h("h2", null, "Output"), runOutput(run.output)) : null);
  }

  async function cancel() {
    if (!(await confirmDialog(`Cancel run ${id}?`, { confirm: "Cancel run", danger: true }))) return;
    try {
      await api.post(`/v1/runs/${enc}/cancel`, undefined, signal);
      toast("Cancel asked: the run stops.");
    } catch (error) {
      toast(error.message, "error");
    }
    await refresh();
    attach();
  }

  /** Follow the run's events after the last one seen; re-attaches while it keeps running. */
  async function attach() {
    if (following || signal.aborted) return;
    following = true;
    live.textContent = "Following the run's events live…";
    const before = events.count();
    try {
      await api.follow(id, lastSeq, {
        signal,
        onEvent: (message) => {
          const d = message.data || {};
          if (message.id && /^\d+$/.test(message.id)) lastSeq = Math.max(lastSeq, Number(message.id));
          events.add(message);
          if (d.run_id === id && FINAL.has(d.type || message.event)) refresh();
        },
      });
    } catch (error) {
      following = false;
      if (error.name === "AbortError" || signal.aborted) return;
      live.textContent = "";
      live.append(errorBox(error));
      return;
    }
    following = false;
    await refresh();
    loadChildren();
    if (signal.aborted || !run) return;
    if (run.status === "running") {
      // The stream ended but the run goes on (a server restarting, a proxy's timeout): follow
      // again from the last event seen, at once if it brought events, else after a breath.
      const timer = setTimeout(attach, events.count() > before ? 0 : 1000);
      signal.addEventListener("abort", () => clearTimeout(timer));
      return;
    }
    live.textContent = `${events.count()} event${events.count() === 1 ? "" : "s"} · the run is ${run.status}.`;
  }

  function loadChildren() {
    api.get(`/v1/runs/${enc}/children`, { limit: 100 }, signal).then((page) => {
      replace(children, page.items.length
        ? h("ul", { class: "plain" }, page.items.map((c) => h("li", null, badge(c.status), " ", link(`runs/${encodeURIComponent(c.run_id)}`, c.agent_id || shortId(c.run_id)), " ", shortId(c.run_id))))
        : "none");
    }).catch(() => { if (!signal.aborted) replace(children, "–"); });
  }

  await refresh();
  if (!run) return;
  loadChildren();
  api.get(`/v1/costs/runs/${enc}`, null, signal).then((c) => {
    const unpriced = c.unpriced_requests ? h("span", { class: "muted" }, ` (${c.unpriced_requests} of ${c.requests} request(s) unpriced)`) : null;
    const shown = !c.requests ? "–" : c.unpriced_requests === c.requests ? "unpriced" : money(c.total_cost_usd);
    replace(cost, shown, unpriced);
  }).catch(() => replace(cost, "–"));
  attach();
}
