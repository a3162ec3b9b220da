// Sessions: the caller's conversations (search, filter by agent, page, delete) and one session
// in full: every run in order with its input, output, tool calls and usage, plus the session's
// state and metadata. Only the public API: /v1/sessions, /v1/sessions/{id}/runs.
import { h, append, replace } from "../lib/dom.js";
import {
  header, button, badge, table, pager, spinner, errorBox, toast, confirmDialog, field, json,
  duration, time, shortId, link, toolbar, emptyState,
} from "../lib/ui.js";
import {
  runSeconds, selectBox, tokens, runInput, runOutput, toolCalls, facts, appendRows,
} from "../lib/runsview.js";

export default async function render(ctx) {
  if (ctx.params.id) return renderSession(ctx, ctx.params.id);
  return renderList(ctx);
}

// --- the list -------------------------------------------------------------------------------

async function agentIds(api, allows, signal) {
  if (!allows("agents:read")) return [];
  const lists = await Promise.allSettled(["agents", "teams", "workflows"].map((k) => api.get(`/v1/${k}`, null, signal)));
  return lists.flatMap((r) => (r.status === "fulfilled" ? (r.value.items || r.value) : []))
    .map((item) => item.agent_id || item.team_id || item.workflow_id || item.name).filter(Boolean);
}

async function renderList({ root, api, allows, query, signal, setTitle }) {
  setTitle("Sessions");
  const search = h("input", { type: "search", name: "q", value: query.get("q") || "", placeholder: "id, agent or summary" });
  const wanted = query.get("agent") || "";
  const agent = selectBox(wanted ? [wanted] : [], { value: wanted, name: "agent", any: "All agents" });
  const results = h("div", { class: "rv-results" }, spinner());
  const count = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  append(root, [
    header("Sessions", { subtitle: "Conversations and every run in them." }),
    h("form", { class: "rv-filters", onsubmit: (e) => { e.preventDefault(); reload(); } },
      toolbar(field("Search sessions", search), field("Agent", agent), button("Search", null, { type: "submit" }))),
    count, results]);
  agent.addEventListener("change", () => reload());

  agentIds(api, allows, signal).then((ids) => {
    for (const id of ids) if (id !== wanted) agent.append(h("option", { value: id }, id));
  });

  let shown = 0;
  const canDelete = allows("sessions:write");
  const columns = [
    { label: "Session", value: (s) => link(`sessions/${encodeURIComponent(s.session_id)}`, shortId(s.session_id)) },
    { label: "Agent", value: (s) => s.agent_id || "–" },
    { label: "User", value: (s) => s.user_id || "–" },
    { label: "Updated", value: (s) => time(s.updated_at) },
    { label: "Summary", value: (s) => s.summary || h("span", { class: "muted" }, "–"), class: "rv-summary" },
    canDelete ? { label: "Actions", value: (s) => button("Delete", () => remove(s), { kind: "ghost", "aria-label": `Delete session ${s.session_id}` }) } : null,
  ].filter(Boolean);

  async function remove(session) {
    const ok = await confirmDialog(`Delete session ${session.session_id} with all its runs?`, { confirm: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.del(`/v1/sessions/${encodeURIComponent(session.session_id)}`, signal);
      toast(`Session ${session.session_id} deleted.`);
      reload();
    } catch (error) {
      toast(error.message, "error");
    }
  }

  async function page(cursor) {
    const q = search.value.trim();
    const answer = await api.get("/v1/sessions", { q, agent_id: agent.value, cursor, limit: 50 }, signal);
    return { items: answer.items, next: answer.next_cursor };
  }

  const rows = (items) => table(columns, items, { label: "Sessions", empty: "No sessions match." });

  async function reload() {
    const q = search.value.trim();
    const params = new URLSearchParams();
    if (q) params.set("q", q);
    if (agent.value) params.set("agent", agent.value);
    history.replaceState(null, "", `/console/sessions${params.toString() ? `?${params}` : ""}`);
    replace(results, spinner());
    count.textContent = "";
    try {
      const first = await page(null);
      shown = first.items.length;
      const more = (cursor) => page(cursor).then((next) => {
        shown += next.items.length;
        appendRows(results, rows(next.items));
        count.textContent = `${shown} session${shown === 1 ? "" : "s"}`;
        return next.next;
      });
      replace(results, rows(first.items), pager(first.next, more));
      count.textContent = `${shown} session${shown === 1 ? "" : "s"}`;
    } catch (error) {
      if (error.name !== "AbortError") replace(results, errorBox(error));
    }
  }
  await reload();
}

// --- one session ----------------------------------------------------------------------------

/** The chat route's kind for `id`: agent, team or workflow (agent when it cannot tell). */
async function kindOf(api, id, signal) {
  const tries = [["agents", "agent"], ["teams", "team"], ["workflows", "workflow"]];
  for (const [path, kind] of tries) {
    try {
      await api.get(`/v1/${path}/${encodeURIComponent(id)}`, null, signal);
      return kind;
    } catch (error) {
      if (error.status !== 404) break;
    }
  }
  return "agent";
}

/** Runs in conversation order, each member or step run right after the run that made it. */
function nested(runs) {
  const ids = new Set(runs.map((r) => r.run_id));
  const kids = new Map();
  for (const run of runs) {
    const parent = run.parent_run_id && ids.has(run.parent_run_id) ? run.parent_run_id : null;
    if (!kids.has(parent)) kids.set(parent, []);
    kids.get(parent).push(run);
  }
  const out = [];
  const walk = (parent) => { for (const run of kids.get(parent) || []) { out.push(run); walk(run.run_id); } };
  walk(null);
  return out;
}

function runCard(run) {
  const member = run.parent_run_id ? h("span", { class: "muted" }, " · member of ", link(`runs/${encodeURIComponent(run.parent_run_id)}`, shortId(run.parent_run_id))) : null;
  return h("article", { class: ["card", "rv-run", run.parent_run_id ? "rv-run-member" : null], "aria-label": `Run ${run.run_id}` },
    h("header", { class: "rv-run-head" },
      badge(run.status), " ",
      link(`runs/${encodeURIComponent(run.run_id)}`, "Run ", shortId(run.run_id)),
      h("span", { class: "muted" }, " · ", run.agent_id || "", " · "), time(run.started_at || run.created_at),
      h("span", { class: "muted" }, ` · ${duration(runSeconds(run))} · `), tokens(run.usage), h("span", { class: "muted" }, " tokens"),
      member),
    h("div", { class: "rv-turn rv-turn-user" }, h("div", { class: "rv-who" }, "Input"), runInput(run.input)),
    toolCalls(run.tool_calls),
    run.error ? errorBox({ problem: { title: run.error.type, detail: run.error.message } }) : null,
    run.status === "paused" && run.requirements.length
      ? h("p", { class: "rv-note" }, `Waiting for ${run.requirements.length} decision(s): `, link(`runs/${encodeURIComponent(run.run_id)}`, "open the run to decide"))
      : null,
    run.output !== null && run.output !== undefined
      ? h("div", { class: "rv-turn rv-turn-agent" }, h("div", { class: "rv-who" }, "Output"), runOutput(run.output))
      : null);
}

async function renderSession({ root, api, allows, navigate, signal, setTitle }, id) {
  setTitle(`Session ${id}`);
  append(root, spinner());
  let session;
  try {
    session = await api.get(`/v1/sessions/${encodeURIComponent(id)}`, null, signal);
  } catch (error) {
    if (error.name === "AbortError") return;
    replace(root, header("Session"), errorBox(error), h("p", null, link("sessions", "Back to sessions")));
    return;
  }
  const remove = async () => {
    const ok = await confirmDialog(`Delete session ${id} with all its runs?`, { confirm: "Delete", danger: true });
    if (!ok) return;
    try {
      await api.del(`/v1/sessions/${encodeURIComponent(id)}`, signal);
      toast(`Session ${id} deleted.`);
      navigate("sessions");
    } catch (error) {
      toast(error.message, "error");
    }
  };
  const chat = h("span");
  const runsBox = h("section", { class: "rv-conversation", "aria-label": "Conversation" }, spinner("Loading runs…"));
  replace(root,
    header(`Session ${id.length > 24 ? `${id.slice(0, 8)}…` : id}`, {
      subtitle: `${session.agent_id || "no agent"} · ${session.user_id || "no user"} · updated ${new Date(session.updated_at).toLocaleString()}`,
      actions: [chat, allows("sessions:write") ? button("Delete session", remove, { kind: "danger" }) : null],
    }),
    facts([["Session id", h("span", { class: "mono" }, id)], ["Agent", session.agent_id], ["User", session.user_id],
      ["Created", time(session.created_at)], ["Updated", time(session.updated_at)], ["Version", String(session.version)],
      ["Summary", session.summary]]),
    h("h2", null, "Conversation"),
    runsBox,
    h("h2", null, "State"), json(session.state || {}),
    h("h2", null, "Metadata"), json(session.metadata || {}));
  if (session.agent_id && allows("agents:run")) {
    kindOf(api, session.agent_id, signal).then((kind) => {
      replace(chat, link(`chat/${kind}/${encodeURIComponent(session.agent_id)}/${encodeURIComponent(id)}`, "Continue in chat"));
      chat.firstChild.classList.add("btn", "primary", "rv-button-link");
    }).catch(() => {});
  }
  try {
    const runs = await api.all(`/v1/sessions/${encodeURIComponent(id)}/runs`, { limit: 100 });
    if (signal.aborted) return;
    if (!runs.length) { replace(runsBox, emptyState("No runs in this session yet.")); return; }
    replace(runsBox, nested(runs).map(runCard));
  } catch (error) {
    if (error.name !== "AbortError") replace(runsBox, errorBox(error));
  }
}
