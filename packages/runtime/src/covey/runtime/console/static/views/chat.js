// The chat screen: talk to any agent, team or workflow. Answers stream token by token; tool
// calls, member runs and workflow steps show as they happen; a paused run asks for its
// approvals inline; files and images go along as content parts. The conversation is a
// session: its id goes into the address, so a reload (or a shared link) reopens it.
import { h, append, replace } from "../lib/dom.js";
import { button, emptyState, errorBox, header, link, shortId, spinner, time } from "../lib/ui.js";
import { Turn, bytes } from "../lib/chat-turn.js";
import { requirementsForm } from "../lib/chat-approve.js";
import { Attachments } from "../lib/chat-attach.js";

const KINDS = [
  ["agent", "agents", "Agents", "agent_id"],
  ["team", "teams", "Teams", "team_id"],
  ["workflow", "workflows", "Workflows", "workflow_id"],
];
const PLURAL = Object.fromEntries(KINDS.map(([kind, path]) => [kind, path]));
const DEFAULT_MAX_BODY = 1_048_576; // the runtime's default max_body_size
const LIVE = new Set(["running", "queued", "pending"]);
const enc = encodeURIComponent;

async function targets(api, signal) {
  const lists = await Promise.all(KINDS.map(([, path]) =>
    api.get(`/v1/${path}`, null, signal).then((page) => page.items || page, (error) => {
      if (error.name === "AbortError") throw error;
      return [];
    })));
  return KINDS.map(([kind, , label, key], i) => ({
    kind, label,
    items: lists[i].map((item) => ({ id: item[key] || item.name, description: item.description })),
  }));
}

function picker(groups, kind, id, navigate) {
  const lists = groups.map((g) => h("section", { class: "chat-pick", "aria-label": g.label },
    h("h2", null, g.label),
    g.items.length
      ? h("ul", { class: "plain" }, g.items.map((item) => {
        const a = link(`chat/${g.kind}/${enc(item.id)}`, item.id);
        if (g.kind === kind && item.id === id) a.setAttribute("aria-current", "page");
        if (item.description) a.title = item.description;
        return h("li", null, a);
      }))
      : h("p", { class: "muted" }, `No ${g.label.toLowerCase()}.`)));
  const select = h("select", {
    "aria-label": "Talk to",
    onchange: () => { if (select.value) navigate(`chat/${select.value}`); },
  },
  h("option", { value: "" }, "Pick an agent, team or workflow…"),
  groups.map((g) => h("optgroup", { label: g.label }, g.items.map((item) => {
    const value = `${g.kind}/${enc(item.id)}`;
    return h("option", { value, selected: g.kind === kind && item.id === id }, item.id);
  }))));
  return { lists, select: h("div", { class: "chat-pick-phone" }, select) };
}

async function sessionList(box, { api, kind, id, current, signal, navigate }) {
  try {
    const page = await api.get("/v1/sessions", { agent_id: id, limit: 20 }, signal);
    const base = `chat/${kind}/${enc(id)}`;
    // On a phone the list is a select (the column it sits in is folded away).
    const select = h("select", {
      "aria-label": "Conversation",
      onchange: () => navigate(select.value ? `${base}/${select.value}` : base),
    },
    h("option", { value: "" }, "New conversation"),
    page.items.map((s) => h("option", { value: enc(s.session_id), selected: s.session_id === current },
      `${s.summary || s.session_id.slice(0, 8)} · ${new Date(s.updated_at).toLocaleString()}`)));
    replace(box,
      h("div", { class: "chat-pick-phone" }, select),
      h("div", { class: "chat-pick" },
        h("h2", null, "Conversations"),
        h("p", null, link(base, "+ New conversation")),
        page.items.length
          ? h("ul", { class: "plain chat-sessions" }, page.items.map((s) => {
            const a = link(`${base}/${enc(s.session_id)}`, s.summary || shortId(s.session_id));
            if (s.session_id === current) a.setAttribute("aria-current", "page");
            return h("li", null, a, h("div", { class: "muted chat-session-time" }, time(s.updated_at)));
          }))
          : h("p", { class: "muted" }, "No conversations yet.")));
  } catch (error) {
    if (error.name !== "AbortError") replace(box, errorBox(error));
  }
}

export default async function render({ root, params, me, api, allows, navigate, signal, setTitle }) {
  const { kind, id } = params;
  let sessionId = params.session || null;
  setTitle(id ? `Chat · ${id}` : "Chat");

  const side = h("aside", { class: "chat-side", "aria-label": "Agents, teams, workflows and conversations" });
  const mainCol = h("section", { class: "chat-main" });
  append(root, h("div", { class: "chat-layout" }, side, mainCol));

  if (!allows("agents:read")) {
    append(mainCol, [header("Chat"), emptyState("This token cannot list agents (it lacks agents:read).")]);
    return;
  }

  replace(side, spinner());
  const groups = await targets(api, signal);
  const pick = picker(groups, kind, id, navigate);
  const sessions = h("section", { class: "chat-session-list", "aria-label": "Conversations" });
  replace(side, pick.select, pick.lists, id && allows("sessions:read") ? sessions : null);
  const refreshSessions = () => id && allows("sessions:read") && sessionList(sessions, { api, kind, id, current: sessionId, signal, navigate });
  refreshSessions();

  if (kind && !PLURAL[kind]) {
    append(mainCol, [header("Chat"), errorBox({ problem: { title: `No such kind: ${kind}`, detail: "Chat with an agent, a team or a workflow." } })]);
    return;
  }
  if (!kind || !id) {
    append(mainCol, [header("Chat"), emptyState("Pick an agent, a team or a workflow to talk to.")]);
    return;
  }

  const target = groups.find((g) => g.kind === kind).items.find((item) => item.id === id);
  append(mainCol, header(id, { subtitle: [kind, target && target.description].filter(Boolean).join(" · ") }));

  // --- the transcript ------------------------------------------------------------------------
  const log = h("div", { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Conversation", tabindex: 0 });
  const follow = () => {
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 120) log.scrollTop = log.scrollHeight;
  };
  new MutationObserver(follow).observe(log, { childList: true, subtree: true, characterData: true });

  // --- the composer ----------------------------------------------------------------------------
  const limit = Number(me && me.limits && me.limits.max_body_size) || DEFAULT_MAX_BODY;
  const problem = h("div", { class: "chat-problem", role: "alert" });
  const say = (message) => replace(problem, message ? h("div", { class: "error-box" }, message) : null);
  const attachments = new Attachments({ limit, onError: say });
  const input = h("textarea", {
    name: "message", rows: 3, placeholder: "Send a message (Enter sends, Shift+Enter for a new line)",
    onkeydown: (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        send();
      }
    },
  });
  const files = h("input", {
    type: "file", multiple: true, class: "chat-file", id: "chat-file",
    onchange: async () => {
      await attachments.add([...files.files]);
      files.value = "";
    },
  });
  const sendButton = button("Send", () => send(), { kind: "primary" });
  const stopButton = button("Stop", () => stop(), { class: "btn chat-stop" });
  stopButton.hidden = true;
  const composer = h("form", { class: "chat-composer", onsubmit: (e) => { e.preventDefault(); send(); } },
    h("label", { for: "chat-input", class: "chat-label" }, `Message to ${id}`),
    attachments.el,
    problem,
    input,
    h("div", { class: "chat-actions" },
      files,
      h("label", { for: "chat-file", class: "btn ghost chat-attach" }, "Attach files"),
      h("span", { class: "muted chat-hint" }, `Drop or paste files · up to ${bytes(limit)} per message`),
      stopButton, sendButton));
  input.id = "chat-input";
  attachments.wire(composer, input);
  append(mainCol, [log, composer]);

  // --- running a turn --------------------------------------------------------------------------
  let busy = null; // {turn, controller}

  const setBusy = (value) => {
    busy = value;
    sendButton.disabled = Boolean(value);
    stopButton.hidden = !value;
    stopButton.disabled = false;
    log.setAttribute("aria-busy", value ? "true" : "false");
  };

  const turnFor = (inputValue) => {
    const turn = new Turn(inputValue, {
      onSession: (sid) => {
        if (sid === sessionId) return;
        sessionId = sid;
        // Only the address changes (no re-render: that would stop the stream).
        history.replaceState(null, "", `/console/chat/${kind}/${enc(id)}/${enc(sid)}`);
        refreshSessions();
      },
      onPaused: (requirements) => {
        if (!requirements.length) return;
        turn.extra.append(requirementsForm(requirements, (decisions) =>
          run(turn, (options) => api.stream("POST", `/v1/runs/${enc(turn.runId)}/resume`, { ...options, body: { ...decisions, stream: true } }))));
      },
    });
    for (const old of log.querySelectorAll(".chat-empty")) old.remove();
    log.append(turn.el);
    return turn;
  };

  /** Stream `open(options)` into `turn`; re-attach (api.follow) if the stream drops early. */
  async function run(turn, open) {
    const controller = new AbortController();
    const abort = () => controller.abort();
    signal.addEventListener("abort", abort);
    setBusy({ turn, controller });
    let last = null;
    let ended = false;
    const onEvent = (message) => {
      if (message.id !== null) last = Number(message.id);
      const data = message.data;
      if (data && data.run_id === turn.runId && /^run\.(completed|failed|cancelled|paused)$/.test(data.type)) ended = true;
      turn.apply(data);
    };
    try {
      const answer = await open({ signal: controller.signal, onEvent });
      if (answer && answer.run_id) turn.fromRun(answer); // a JSON answer instead of a stream
      else if (!ended && turn.runId && !signal.aborted) {
        await api.follow(turn.runId, last, { signal: controller.signal, onEvent });
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error.name === "AbortError") turn.fail({ problem: { title: "Stopped", detail: "The stream was closed." } });
      else turn.fail(error);
    } finally {
      signal.removeEventListener("abort", abort);
      if (busy && busy.turn === turn) setBusy(null);
    }
  }

  async function stop() {
    if (!busy) return;
    stopButton.disabled = true;
    const { turn, controller } = busy;
    if (!turn.runId) {
      controller.abort();
      return;
    }
    try {
      await api.post(`/v1/runs/${enc(turn.runId)}/cancel`, undefined, signal);
    } catch (error) {
      if (error.status === 409) controller.abort();
      else say(error.message);
    }
  }

  async function send() {
    if (busy) return;
    const text = input.value.trim();
    const parts = attachments.parts();
    if (!text && !parts.length) {
      input.focus();
      return;
    }
    const inputValue = parts.length ? [...(text ? [{ kind: "text", text }] : []), ...parts] : text;
    const body = { input: inputValue, stream: true };
    if (sessionId) body.session_id = sessionId;
    const size = new Blob([JSON.stringify(body)]).size;
    if (size > limit) {
      say(`This message is ${bytes(size)} with its attachments; the server takes at most ${bytes(limit)} per request (max_body_size). Remove an attachment or send smaller files.`);
      return;
    }
    say(null);
    input.value = "";
    attachments.clear();
    const turn = turnFor(inputValue);
    log.scrollTop = log.scrollHeight;
    await run(turn, (options) => api.stream("POST", `/v1/${PLURAL[kind]}/${enc(id)}/runs`, { ...options, body }));
    input.focus();
  }

  // --- an open conversation: its past turns, re-attaching to a running one ------------------
  if (sessionId) {
    log.append(spinner("Loading the conversation…"));
    let runs;
    try {
      runs = (await api.all(`/v1/sessions/${enc(sessionId)}/runs`, { limit: 100 }, 500)).filter((r) => !r.parent_run_id);
    } catch (error) {
      if (error.name === "AbortError") return;
      replace(log, errorBox(error));
      return;
    }
    replace(log);
    if (!runs.length) log.append(h("p", { class: "chat-empty muted" }, "No messages in this conversation yet."));
    for (const stored of runs) {
      const turn = turnFor(stored.input);
      if (LIVE.has(stored.status)) {
        turn.attach(stored.run_id);
        run(turn, (options) => api.follow(stored.run_id, 0, options));
      } else turn.fromRun(stored);
    }
    log.scrollTop = log.scrollHeight;
  } else {
    log.append(h("p", { class: "chat-empty muted" }, `Say something to ${id}.`));
  }
  input.focus({ preventScroll: true });
}
