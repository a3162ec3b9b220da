// Traces: the spans covey-otel stored, per root run. The list shows each trace's run, status,
// duration, span and error counts and tokens; a trace opens as a waterfall (bars scaled to the
// trace, nested by parent span, coloured by status) and a span's attributes open on click.
// Only the public API: /v1/traces.
import { h, append, replace } from "../lib/dom.js";
import {
  header, badge, table, pager, spinner, errorBox, duration, time, number, shortId, link, toolbar,
  field, emptyState,
} from "../lib/ui.js";
import {
  selectBox, facts, RUN_STATUSES, appendRows,
} from "../lib/runsview.js";

export default async function render(ctx) {
  const { root, me, setTitle } = ctx;
  setTitle("Traces");
  if (!me || !me.features || !me.features.traces) {
    append(root, [header("Traces"),
      h("div", { class: "card rv-off", role: "status" },
        h("h2", null, "Tracing is off on this server"),
        h("p", null, "Nothing is traced, so there are no spans to show. Turn it on with the runtime setting ",
          h("code", null, "tracing"), " (", h("code", null, "COVEY_TRACING=true"), "; it needs ",
          h("code", null, "covey-runtime[otel]"), "), then run an agent again."))]);
    return;
  }
  if (ctx.params.id) return renderTrace(ctx, ctx.params.id);
  return renderList(ctx);
}

// --- the list -------------------------------------------------------------------------------

async function renderList({ root, api, query, signal }) {
  const status = selectBox(RUN_STATUSES, { value: query.get("status") || "", name: "status", any: "Any status" });
  const results = h("div", null, spinner());
  append(root, [header("Traces", { subtitle: "What each run did, span by span." }), toolbar(field("Run status", status)), results]);
  status.addEventListener("change", () => reload());
  const columns = [
    { label: "Trace", value: (t) => link(`traces/${encodeURIComponent(t.trace_id)}`, shortId(t.trace_id)) },
    { label: "Agent", value: (t) => t.agent_id || "–" },
    { label: "Status", value: (t) => badge(t.status) },
    { label: "Started", value: (t) => time(t.start) },
    { label: "Duration", value: (t) => duration(t.duration_ms === null ? null : t.duration_ms / 1000), class: "num" },
    { label: "Spans", value: (t) => number(t.span_count), class: "num" },
    { label: "Errors", value: (t) => (t.error_count ? h("span", { class: "rv-bad" }, number(t.error_count)) : "0"), class: "num" },
    { label: "Tokens", value: (t) => number(t.input_tokens + t.output_tokens), class: "num" },
    { label: "Run", value: (t) => link(`runs/${encodeURIComponent(t.run_id)}`, "run") },
  ];
  const rows = (items) => table(columns, items, { label: "Traces", empty: "No traces yet: run an agent." });

  async function reload() {
    history.replaceState(null, "", `/console/traces${status.value ? `?status=${encodeURIComponent(status.value)}` : ""}`);
    replace(results, spinner());
    try {
      const page = await api.get("/v1/traces", { status: status.value, limit: 20 }, signal);
      const more = (cursor) => api.get("/v1/traces", { status: status.value, limit: 20, cursor }, signal).then((next) => {
        appendRows(results, rows(next.items));
        return next.next_cursor;
      });
      replace(results, rows(page.items), pager(page.next_cursor, more));
    } catch (error) {
      if (error.name !== "AbortError") replace(results, errorBox(error));
    }
  }
  await reload();
}

// --- one trace: the waterfall ---------------------------------------------------------------

/** Spans in tree order (each followed by its children, by start), with their depth. */
function ordered(spans) {
  const ids = new Set(spans.map((s) => s.span_id));
  const kids = new Map();
  for (const s of spans) {
    const parent = s.parent_span_id && ids.has(s.parent_span_id) ? s.parent_span_id : null;
    if (!kids.has(parent)) kids.set(parent, []);
    kids.get(parent).push(s);
  }
  const out = [];
  const walk = (parent, depth) => {
    for (const s of (kids.get(parent) || []).sort((a, b) => Date.parse(a.start) - Date.parse(b.start))) {
      out.push({ span: s, depth });
      walk(s.span_id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}

const kindOf = (span) => span.attributes["gen_ai.operation.name"] || span.attributes["covey.kind"] || span.name.split(" ")[0];

function attributes(span) {
  const entries = Object.entries(span.attributes).sort(([a], [b]) => a.localeCompare(b));
  return h("div", { class: "rv-span-detail" },
    h("h2", null, span.name),
    facts([
      ["Status", h("span", null, badge(span.status), span.status_message ? ` ${span.status_message}` : "")],
      ["Kind", kindOf(span)],
      ["Span id", h("span", { class: "mono" }, span.span_id)],
      ["Parent", span.parent_span_id ? h("span", { class: "mono" }, span.parent_span_id) : "none (root)"],
      ["Start", time(span.start)],
      ["Duration", duration(span.duration_ms === null ? null : span.duration_ms / 1000)],
    ]),
    h("h3", null, "Attributes"),
    entries.length
      ? h("div", { class: "table-wrap rv-attrs" }, h("table", { class: "table", "aria-label": "Span attributes" },
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Attribute"), h("th", { scope: "col" }, "Value"))),
        h("tbody", null, entries.map(([k, v]) => h("tr", null, h("td", { class: "mono" }, k),
          h("td", { class: "mono rv-attr" }, typeof v === "string" ? v : JSON.stringify(v)))))))
      : emptyState("No attributes."));
}

async function renderTrace({ root, api, signal, setTitle }, id) {
  setTitle(`Trace ${id}`);
  append(root, spinner());
  let trace;
  try {
    trace = await api.get(`/v1/traces/${encodeURIComponent(id)}`, null, signal);
  } catch (error) {
    if (error.name === "AbortError") return;
    replace(root, header("Trace"), errorBox(error), h("p", null, link("traces", "Back to traces")));
    return;
  }
  const spans = trace.spans;
  const t0 = Math.min(...spans.map((s) => Date.parse(s.start)));
  const ends = spans.map((s) => Date.parse(s.start) + (s.duration_ms || 0));
  const total = Math.max(1, Math.max(...ends) - t0); // ms; at least 1 so bars have a scale
  const rootSpan = spans.find((s) => !s.parent_span_id) || spans[0];
  const errors = spans.filter((s) => s.status === "error").length;
  const detail = h("aside", { class: "card rv-span-panel", "aria-label": "Span details", "aria-live": "polite" },
    h("p", { class: "muted" }, "Select a span to see its attributes."));

  const rows = ordered(spans).map(({ span, depth }) => {
    const offset = Date.parse(span.start) - t0;
    const length = span.duration_ms === null || span.duration_ms === undefined ? 0 : span.duration_ms;
    const bar = h("span", {
      class: ["rv-bar", `rv-bar-${span.status}`], "aria-hidden": "true",
      style: { left: `${(offset / total) * 100}%`, width: `${Math.min(100 - (offset / total) * 100, Math.max(0.4, (length / total) * 100))}%` },
    });
    const row = h("li", { class: "rv-span" },
      h("button", {
        type: "button", class: "rv-span-button", "aria-pressed": "false",
        "aria-label": `${span.name}, ${span.status}, starts at ${duration(offset / 1000)}, takes ${duration(length / 1000)}`,
        onclick: () => {
          for (const b of list.querySelectorAll(".rv-span-button")) b.setAttribute("aria-pressed", "false");
          row.firstChild.setAttribute("aria-pressed", "true");
          replace(detail, attributes(span));
        },
      },
      h("span", { class: "rv-span-label", style: { paddingLeft: `${depth * 1.1}rem` } },
        h("span", { class: ["rv-dot", `rv-bar-${span.status}`], "aria-hidden": "true" }),
        h("span", { class: "rv-span-name" }, span.name),
        h("span", { class: "rv-span-kind muted" }, kindOf(span))),
      h("span", { class: "rv-span-track" }, bar),
      h("span", { class: "rv-span-time muted mono" }, `+${duration(offset / 1000)} · ${duration(length / 1000)}`)));
    return row;
  });
  const list = h("ol", { class: "rv-waterfall", "aria-label": "Spans" }, rows);
  const runId = rootSpan.attributes["covey.run.id"] || id;
  replace(root,
    header(h("span", null, "Trace ", h("span", { class: "mono" }, shortId(id)), " ", badge(rootSpan.attributes["covey.run.status"] || rootSpan.status)), {
      subtitle: `${rootSpan.name} · ${spans.length} span${spans.length === 1 ? "" : "s"} · ${duration(total / 1000)}${errors ? ` · ${errors} error${errors === 1 ? "" : "s"}` : ""}`,
      actions: [link(`runs/${encodeURIComponent(runId)}`, "Open the run"), link("traces", "All traces")],
    }),
    h("div", { class: "rv-trace" },
      h("div", { class: "rv-waterfall-wrap" },
        h("div", { class: "rv-scale muted", "aria-hidden": "true" }, h("span"),
          h("span", { class: "rv-scale-track" }, h("span", null, "0"), h("span", null, duration(total / 2000)), h("span", null, duration(total / 1000))), h("span")),
        list),
      detail));
}
