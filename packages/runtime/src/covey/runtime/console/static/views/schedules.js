// Schedules: the list (target, timetable, next run, paused or not) with a form to create one
// and pause/resume/delete on each row; `schedules/:id`: one schedule and its firings, each
// linking to the run it started.
import { h, append as appendAll, replace } from "../lib/dom.js";
import {
  badge, button, confirmDialog, emptyState, errorBox, field, header, json, link, number, pager,
  shortId, spinner, table, time, toast,
} from "../lib/ui.js";

/** Append any number of children (null and false skipped). */
const append = (el, ...children) => appendAll(el, children);

const TARGETS = [["agent", "agents", "agent_id"], ["team", "teams", "team_id"], ["workflow", "workflows", "workflow_id"]];

const HISTORY_REFRESH_MS = 2000;

const path = (id) => `/v1/schedules/${encodeURIComponent(id)}`;

function every(seconds) {
  if (seconds % 86400 === 0) return `every ${seconds / 86400} d`;
  if (seconds % 3600 === 0) return `every ${seconds / 3600} h`;
  if (seconds % 60 === 0) return `every ${seconds / 60} min`;
  return `every ${seconds} s`;
}

const timetable = (s) => (s.cron ? h("span", { class: "mono" }, s.cron) : every(s.interval));
const state = (s) => badge(s.enabled ? "active" : "paused");

/** Pause/resume and delete buttons for `s`; `after(updated | null)` runs once done. */
function rowActions({ api, allows }, s, after) {
  if (!allows("schedules:write")) return null;
  return h("div", { class: "actions" },
    button(s.enabled ? "Pause" : "Resume", async () => {
      try {
        const updated = await api.post(`${path(s.schedule_id)}/${s.enabled ? "pause" : "resume"}`);
        toast(`${s.name} ${updated.enabled ? "resumed" : "paused"}.`);
        after(updated);
      } catch (error) {
        toast(error.message, "error");
      }
    }, { kind: "ghost", "aria-label": `${s.enabled ? "Pause" : "Resume"} ${s.name}` }),
    button("Delete", async () => {
      if (!(await confirmDialog(`Delete the schedule ${s.name}? Its past runs stay.`, { confirm: "Delete", danger: true }))) return;
      try {
        await api.del(path(s.schedule_id));
        toast(`${s.name} deleted.`);
        after(null);
      } catch (error) {
        toast(error.message, "error");
      }
    }, { kind: "ghost", "aria-label": `Delete ${s.name}` }));
}

/** The form that creates a schedule; `created()` runs after. */
function createForm({ api, allows, signal }, created) {
  const name = h("input", { name: "name", required: true, maxlength: 200 });
  const kind = h("select", { name: "target_kind" }, TARGETS.map(([k]) => h("option", { value: k }, k)));
  // The target is picked from what the server serves; a token that cannot list them types it.
  const canList = allows("agents:read");
  const target = canList
    ? h("select", { name: "target_id", required: true })
    : h("input", { name: "target_id", required: true, maxlength: 255 });
  const how = h("select", { name: "trigger" }, h("option", { value: "interval" }, "every N seconds"), h("option", { value: "cron" }, "cron expression"));
  const interval = h("input", { name: "interval", type: "number", min: 1, step: "any", value: 3600, required: true });
  const cron = h("input", { name: "cron", placeholder: "0 9 * * 1-5", class: "mono", maxlength: 200 });
  const zone = h("input", { name: "timezone", value: "UTC", maxlength: 64, required: true });
  const input = h("textarea", { name: "input", rows: 3, required: true, placeholder: "What every run starts with" });
  const paused = h("input", { type: "checkbox", name: "paused" });
  const problem = h("div");
  const intervalField = field("Interval (seconds)", interval);
  const cronField = field("Cron", cron, "5 fields (minute hour day month weekday), or 6 with seconds first, read in the timezone.");
  cronField.hidden = true;

  const lists = {};
  async function fill() {
    const [k, route, key] = TARGETS.find(([x]) => x === kind.value);
    replace(target, h("option", { value: "" }, "loading…"));
    try {
      if (!lists[k]) lists[k] = (await api.get(`/v1/${route}`, null, signal)).items.map((item) => item[key] || item.name);
      replace(target, lists[k].length ? lists[k].map((id) => h("option", { value: id }, id)) : h("option", { value: "" }, `no ${route} served`));
    } catch (error) {
      if (error.name !== "AbortError") replace(target, h("option", { value: "" }, error.message));
    }
  }
  if (canList) kind.addEventListener("change", fill);
  how.addEventListener("change", () => {
    const useCron = how.value === "cron";
    cronField.hidden = !useCron;
    intervalField.hidden = useCron;
    cron.required = useCron;
    interval.required = !useCron;
  });
  if (canList) fill();

  const form = h("form", {
    class: "card sch-form",
    onsubmit: async (e) => {
      e.preventDefault();
      replace(problem);
      let value = input.value;
      if (kind.value === "workflow" && value.trim().startsWith("{")) {
        try {
          value = JSON.parse(value);
        } catch {
          // not JSON: the workflow gets the text
        }
      }
      const body = {
        name: name.value.trim(), target_kind: kind.value, target_id: target.value,
        timezone: zone.value.trim(), input: value, enabled: !paused.checked,
      };
      if (how.value === "cron") body.cron = cron.value.trim();
      else body.interval = Number(interval.value);
      try {
        const saved = await api.post("/v1/schedules", body, signal);
        toast(`Schedule ${saved.name} created.`);
        name.value = "";
        input.value = "";
        created(saved);
      } catch (error) {
        if (error.name !== "AbortError") replace(problem, errorBox(error));
      }
    },
  },
  h("h2", null, "New schedule"),
  h("div", { class: "sch-grid" },
    field("Name", name),
    field("Target kind", kind),
    field("Target", target),
    field("Timetable", how),
    intervalField,
    cronField,
    field("Timezone", zone, "An IANA zone such as Europe/Paris.")),
  field("Input", input, "Every run's input (a workflow may take a JSON object)."),
  h("label", { class: "sch-check" }, paused, " Create it paused"),
  problem,
  button("Create schedule", null, { kind: "primary", type: "submit" }));
  return form;
}

async function listView(ctx) {
  const { root, api, allows, signal, navigate } = ctx;
  const list = h("div", { "aria-live": "polite" }, spinner());
  const columns = [
    { label: "Name", value: (s) => link(`schedules/${encodeURIComponent(s.schedule_id)}`, s.name) },
    { label: "Target", value: (s) => `${s.target_kind} ${s.target_id}` },
    { label: "When", value: (s) => h("span", null, timetable(s), s.cron ? h("small", { class: "muted" }, ` (${s.timezone})`) : null) },
    { label: "Next run", value: (s) => (s.enabled ? time(s.next_run_at) : "–") },
    { label: "Last run", value: (s) => time(s.last_run_at) },
    { label: "Fired", value: (s) => number(s.fired), class: "num" },
    { label: "State", value: state },
    { label: "Actions", value: (s) => rowActions(ctx, s, refresh) },
  ];
  async function refresh() {
    try {
      const page = await api.get("/v1/schedules", { limit: 100 }, signal);
      const rows = [...page.items];
      const draw = (cursor) => replace(list,
        table(columns, rows, { label: "Schedules", empty: "No schedules yet.", onRow: (s) => navigate(`schedules/${encodeURIComponent(s.schedule_id)}`) }),
        pager(cursor, more));
      const more = async (cursor) => {
        const next = await api.get("/v1/schedules", { limit: 100, cursor }, signal);
        rows.push(...next.items);
        draw(next.next_cursor);
        return null;
      };
      draw(page.next_cursor);
    } catch (error) {
      if (error.name !== "AbortError") replace(list, errorBox(error));
    }
  }
  const newSchedule = h("details", { class: "sch-new" }, h("summary", { class: "btn primary" }, "New schedule"));
  append(newSchedule, createForm(ctx, () => {
    newSchedule.open = false;
    refresh();
  }));
  append(root,
    header("Schedules", { subtitle: "Agents, teams and workflows run on a cron expression or an interval." }),
    allows("schedules:write") && allows("agents:run") ? newSchedule : null,
    list);
  await refresh();
}

async function detailView(ctx) {
  const { root, params, api, signal, navigate, setTitle } = ctx;
  const id = params.id;
  append(root, spinner());
  let s;
  try {
    s = await api.get(path(id), null, signal);
  } catch (error) {
    if (error.name === "AbortError") return;
    replace(root, header("Schedule"), errorBox(error), link("schedules", "All schedules"));
    return;
  }
  setTitle(`Schedule ${s.name}`);
  const history = h("div", { "aria-live": "polite" }, spinner());
  const facts = [
    ["State", state(s)],
    ["Target", s.target_kind === "workflow"
      ? link(`workflows/${encodeURIComponent(s.target_id)}`, `workflow ${s.target_id}`)
      : `${s.target_kind} ${s.target_id}`],
    ["When", h("span", null, timetable(s), ` (${s.timezone})`)],
    ["Next run", s.enabled ? time(s.next_run_at) : "– (paused)"],
    ["Last run", time(s.last_run_at)],
    ["Fired", number(s.fired)],
    ["Missed", number(s.missed)],
    ["Session", s.session_id || "a new one each run"],
    ["Owner", s.user_id || "–"],
    ["Created", time(s.created_at)],
  ];
  replace(root,
    header(`Schedule ${s.name}`, {
      subtitle: h("span", { class: "mono" }, s.schedule_id),
      actions: [rowActions(ctx, s, (updated) => (updated ? navigate(`schedules/${encodeURIComponent(id)}`, { replaceState: true }) : navigate("schedules"))), link("schedules", "All schedules")],
    }),
    h("dl", { class: "card sch-facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
    h("section", { class: "sch-input" }, h("h2", null, "Input"), typeof s.input === "string" ? h("p", { class: "card" }, s.input) : json(s.input),
      s.state ? json(s.state, { summary: "Session state merged in" }) : null),
    h("section", null, h("h2", null, "Run history"), history));
  // The history refreshes while the schedule is active, so a firing shows up as it happens.
  let timer = null;
  signal.addEventListener("abort", () => clearTimeout(timer));
  const columns = [
    { label: "Run", value: (f) => link(`runs/${encodeURIComponent(f.run_id)}`, shortId(f.run_id)) },
    { label: "Status", value: (f) => (f.status ? badge(f.status) : h("span", { class: "muted" }, "deleted")) },
    { label: "Scheduled for", value: (f) => time(f.scheduled_for) },
    { label: "Fired at", value: (f) => time(f.fired_at) },
    { label: "By", value: (f) => f.by || "–" },
  ];
  async function loadHistory() {
    try {
      const { items } = await api.get(`${path(id)}/runs`, { limit: 50 }, signal);
      replace(history, table(columns, items, { label: "Run history", empty: "It has not fired yet." }));
      const busy = items.some((f) => f.status === "running" || f.status === "pending");
      if (s.enabled || busy) timer = setTimeout(loadHistory, HISTORY_REFRESH_MS);
    } catch (error) {
      if (error.name !== "AbortError") replace(history, errorBox(error));
    }
  }
  await loadHistory();
}

export default async function render(ctx) {
  ctx.setTitle("Schedules");
  if (!ctx.allows("schedules:read")) {
    append(ctx.root, header("Schedules"), emptyState("This token cannot read schedules (it lacks schedules:read)."));
    return;
  }
  return ctx.params.id ? detailView(ctx) : listView(ctx);
}
