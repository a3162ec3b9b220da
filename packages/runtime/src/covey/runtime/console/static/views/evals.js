// Eval reports: the list (`evals`) and one report (`evals/:id`) with its thresholds, its
// performance and every case (pass or fail, judge score and reason, tool-call checks, its run).
// Evals run in the background (POST /v1/evals answers 202): a running report shows its
// progress, in the list and on its page, which polls GET /v1/evals/{id} until it ends.
// Evals need covey-evals on the server (`me.features.evals`) and the admin scope.
import { h, append as appendAll, replace } from "../lib/dom.js";
import { badge, button, duration, emptyState, errorBox, header, link, number, pager, shortId, spinner, table, time, toast } from "../lib/ui.js";

/** Milliseconds between polls of a running eval. */
const POLL_MS = 1000;

/** Append any number of children (null and false skipped). */
const append = (el, ...children) => appendAll(el, children);

const verdict = (passed) => badge(passed ? "passed" : "failed");
const running = (r) => r.status === "running";
/** A finished eval's verdict; otherwise its status (running, failed, cancelled). */
const outcome = (r) => (!r.status || r.status === "completed" ? verdict(r.passed) : badge(r.status));
const progressText = (p) => (p ? `${p.done} of ${p.total} cases done` : "");
const ratio = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)} %`);
const score = (x) => (x === null || x === undefined ? "–" : `${Number(x).toFixed(1)} / 10`);

async function listView({ root, api, signal, navigate }) {
  append(root, header("Evals", { subtitle: "Reports of eval suites run against the agents (POST /v1/evals or `covey eval`)." }));
  const box = h("div", { "aria-live": "polite" }, spinner());
  append(root, box);
  const columns = [
    { label: "Suite", value: (r) => link(`evals/${encodeURIComponent(r.id)}`, r.suite) },
    { label: "Agent", value: (r) => r.agent || "–" },
    { label: "Result", value: outcome },
    { label: "Cases passed", value: (r) => (running(r) ? progressText(r.progress) : `${r.cases_passed} / ${r.cases}`), class: "num" },
    { label: "Accuracy", value: (r) => score(r.accuracy), class: "num" },
    { label: "Reliability", value: (r) => ratio(r.reliability), class: "num" },
    { label: "Pass rate", value: (r) => ratio(r.pass_rate), class: "num" },
    { label: "Finished", value: (r) => (r.finished_at ? time(r.finished_at) : "–") },
  ];
  let timer = null;
  signal.addEventListener("abort", () => clearTimeout(timer));
  try {
    const page = await api.get("/v1/evals", { limit: 50 }, signal);
    const rows = [...page.items];
    // While a report of the first page runs, its row is refreshed (until more pages are loaded).
    let paged = false;
    const refresh = async () => {
      if (signal.aborted || paged) return;
      try {
        const again = await api.get("/v1/evals", { limit: 50 }, signal);
        if (paged) return;
        rows.splice(0, rows.length, ...again.items);
        draw(again.next_cursor);
        if (rows.some(running)) timer = setTimeout(refresh, POLL_MS);
      } catch (error) {
        if (error.name !== "AbortError") replace(box, errorBox(error));
      }
    };
    const draw = (cursor) => replace(box,
      table(columns, rows, { label: "Eval reports", empty: "No eval reports yet: run a suite with `covey eval` or POST /v1/evals.", onRow: (r) => navigate(`evals/${encodeURIComponent(r.id)}`) }),
      pager(cursor, more));
    const more = async (cursor) => {
      paged = true;
      clearTimeout(timer);
      const next = await api.get("/v1/evals", { limit: 50, cursor }, signal);
      rows.push(...next.items);
      draw(next.next_cursor);
      return null;
    };
    draw(page.next_cursor);
    if (rows.some(running)) timer = setTimeout(refresh, POLL_MS);
  } catch (error) {
    if (error.name !== "AbortError") replace(box, errorBox(error));
  }
}

function checks(c) {
  const out = [];
  if (c.accuracy) {
    out.push(h("div", null, h("strong", null, "Judge: "),
      c.accuracy.error ? h("span", { class: "ev-bad" }, c.accuracy.error) : `${score(c.accuracy.score)}${c.accuracy.reason ? ` — ${c.accuracy.reason}` : ""}`));
  }
  if (c.reliability) {
    const r = c.reliability;
    out.push(h("div", null, h("strong", null, "Tool calls: "), r.passed ? "as expected" : "not as expected",
      r.missing && r.missing.length ? h("div", { class: "ev-bad" }, `missing: ${r.missing.map((m) => m.name).join(", ")}`) : null,
      r.unexpected && r.unexpected.length ? h("div", { class: "ev-bad" }, `unexpected: ${r.unexpected.join(", ")}`) : null));
  }
  if (c.error) out.push(h("div", { class: "ev-bad" }, c.error));
  return out.length ? out : "–";
}

async function reportView({ root, params, api, signal, setTitle }) {
  append(root, spinner());
  const path = `/v1/evals/${encodeURIComponent(params.id)}`;
  let timer = null;
  signal.addEventListener("abort", () => clearTimeout(timer));
  let report;
  try {
    report = await api.get(path, null, signal);
  } catch (error) {
    if (error.name === "AbortError") return;
    replace(root, header("Eval report"), errorBox(error), link("evals", "All reports"));
    return;
  }
  setTitle(`Eval ${report.suite}`);
  const poll = async () => {
    if (signal.aborted) return;
    try {
      const next = await api.get(path, null, signal);
      // Redraw only on a change (not on a renewed lease), so focus stays where it is.
      const changed = sameness(next) !== sameness(report);
      report = next;
      if (changed) draw(report);
    } catch (error) {
      if (error.name === "AbortError") return;
      // A report being replaced in another worker may be missing for an instant: poll on.
      if (error.status !== 404) toast(error.message, "error");
    }
    if (running(report)) timer = setTimeout(poll, POLL_MS);
  };
  const cancel = async () => {
    try {
      report = await api.post(`${path}/cancel`, undefined, signal);
      draw(report);
      toast(report.status === "cancelled" ? "Eval cancelled" : "Cancel requested");
    } catch (error) {
      if (error.name !== "AbortError") toast(error.message, "error");
    }
  };
  draw(report);
  if (running(report)) timer = setTimeout(poll, POLL_MS);

  function draw(report) {
    replace(root, ...page(report, cancel));
  }
}

/** What a redraw shows of a report (everything but its lease). */
const sameness = (r) => JSON.stringify({ ...r, heartbeat_at: null });

function page(report, cancel) {
  const passed = report.cases.filter((c) => c.passed).length;
  const perf = report.performance;
  const p = report.progress;
  const live = running(report);
  const subtitle = live
    ? h("span", null, badge("running"), ` ${progressText(p)} · ${report.agent || "?"} · started `, time(report.started_at))
    : h("span", null, outcome(report), ` ${passed} of ${report.cases.length} cases passed · ${report.agent || "?"} · `, report.finished_at ? time(report.finished_at) : "–");
  const actions = [link("evals", "All reports")];
  if (live) actions.unshift(button("Cancel eval", cancel, { kind: "danger", "aria-label": `Cancel eval ${report.suite}` }));
  return [
    header(`Eval ${report.suite}`, { subtitle, actions }),
    live && p
      ? h("section", { class: "card", "aria-label": "Progress", "aria-live": "polite" },
        h("progress", { max: p.total || 1, value: p.done, "aria-label": `Eval progress: ${progressText(p)}` }),
        h("p", { class: "muted" }, progressText(p)))
      : null,
    report.error ? h("div", { class: "card ev-bad", role: "status" }, report.error) : null,
    h("div", { class: "cards ev-scores" },
      h("section", { class: "card", "aria-label": "Accuracy" }, h("h2", null, "Accuracy"), h("p", { class: "ev-big" }, score(report.accuracy))),
      h("section", { class: "card", "aria-label": "Reliability" }, h("h2", null, "Reliability"), h("p", { class: "ev-big" }, ratio(report.reliability))),
      h("section", { class: "card", "aria-label": "Pass rate" }, h("h2", null, "Pass rate"), h("p", { class: "ev-big" }, ratio(report.pass_rate))),
      perf ? h("section", { class: "card", "aria-label": "Performance" }, h("h2", null, "Performance"),
        h("p", null, `${number(perf.runs)} runs${perf.failed_runs ? ` (${perf.failed_runs} failed)` : ""} · p50 ${duration(perf.latency.p50)} · p95 ${duration(perf.latency.p95)}`),
        perf.memory_peak_mb !== null && perf.memory_peak_mb !== undefined ? h("p", { class: "muted" }, `peak ${Number(perf.memory_peak_mb).toFixed(1)} MiB`) : null) : null),
    h("section", { class: "ev-section" }, h("h2", null, "Thresholds"),
      table([
        { label: "Threshold", value: (t) => t.name },
        { label: "Needed", value: (t) => String(t.threshold), class: "num" },
        { label: "Reached", value: (t) => (t.value === null ? "not measured" : Number(t.value).toFixed(3)), class: "num" },
        { label: "Result", value: (t) => verdict(t.passed) },
      ], report.thresholds || [], { label: "Thresholds", empty: live ? "Thresholds are checked when every case has run." : "The suite sets no threshold." })),
    h("section", { class: "ev-section" }, h("h2", null, "Cases"),
      table([
        { label: "Case", value: (c) => c.id },
        { label: "Result", value: (c) => verdict(c.passed) },
        { label: "Input", value: (c) => h("span", { class: "ev-text" }, c.input) },
        { label: "Output", value: (c) => h("span", { class: "ev-text" }, c.output || "–") },
        { label: "Checks", value: checks },
        { label: "Time", value: (c) => duration(c.duration), class: "num" },
        { label: "Run", value: (c) => (c.run_id ? link(`runs/${encodeURIComponent(c.run_id)}`, shortId(c.run_id)) : "–") },
      ], report.cases, { label: "Cases", empty: live ? "No case has finished yet." : "No cases." })),
  ];
}

export default async function render(ctx) {
  const { root, me, allows, params, setTitle } = ctx;
  setTitle("Evals");
  if (!me.features.evals) {
    append(root, header("Evals"), h("div", { class: "card", role: "status" },
      h("p", null, "Evals are not available on this server: covey-evals is not installed."),
      h("p", { class: "muted" }, "Install the runtime's evals extra (covey-runtime[evals]) and restart the server to run suites and keep their reports.")));
    return;
  }
  if (!allows("admin")) {
    append(root, header("Evals"), emptyState("Eval reports need the admin scope."));
    return;
  }
  return params.id ? reportView(ctx) : listView(ctx);
}
