// What the agents know about a user: memories (list, add, correct, delete), learnings (by
// namespace and kind, picked from the namespaces the server lists; delete) and the user profile
// (view, edit as JSON, delete). An admin picks the user from the users the server lists, or types
// an id; everyone else sees their own.
import { h, append as appendAll, replace } from "../lib/dom.js";
import {
  button, confirmDialog, emptyState, errorBox, field, header, json, link, number, pager, spinner,
  table, tabs, time, toast, toolbar,
} from "../lib/ui.js";

/** Append any number of children (null and false skipped). */
const append = (el, ...children) => appendAll(el, children);

const topicsOf = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

function memoriesPanel({ api, allows, signal }, user) {
  const panel = h("div", { class: "mem-panel" });
  const list = h("div", { "aria-live": "polite" });
  const writable = allows("memories:write");

  const addProblem = h("div");
  const text = h("textarea", { name: "memory", rows: 2, required: true, maxlength: 10000 });
  const topics = h("input", { name: "topics", placeholder: "travel, food" });
  const addForm = h("form", {
    class: "card mem-add",
    onsubmit: async (e) => {
      e.preventDefault();
      replace(addProblem);
      const body = { memory: text.value, topics: topicsOf(topics.value) };
      if (user) body.user_id = user;
      try {
        await api.post("/v1/memories", body, signal);
        text.value = "";
        topics.value = "";
        toast("Memory added.");
        refresh();
      } catch (error) {
        if (error.name !== "AbortError") replace(addProblem, errorBox(error));
      }
    },
  },
  h("h2", null, "Add a memory"),
  field("Memory", text, "A fact about the user, in a sentence or two."),
  field("Topics", topics, "Comma-separated, optional."),
  addProblem,
  button("Add memory", null, { kind: "primary", type: "submit" }));
  const problem = h("div");

  function editRow(cell, memory) {
    const box = h("textarea", { rows: 3, "aria-label": "Memory text", maxlength: 10000 }, memory.memory);
    box.value = memory.memory;
    const tags = h("input", { "aria-label": "Memory topics", value: memory.topics.join(", ") });
    replace(cell, h("form", {
      class: "mem-edit",
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          await api.patch(`/v1/memories/${encodeURIComponent(memory.id)}`, { memory: box.value, topics: topicsOf(tags.value) }, signal);
          toast("Memory saved.");
          refresh();
        } catch (error) {
          if (error.name !== "AbortError") replace(problem, errorBox(error));
        }
      },
    }, box, tags, h("div", { class: "actions" },
      button("Save", null, { kind: "primary", type: "submit" }),
      button("Cancel", () => refresh(), { kind: "ghost" }))));
    box.focus();
  }

  const columns = [
    { label: "Memory", value: (m) => h("span", { class: "mem-text" }, m.memory) },
    { label: "Topics", value: (m) => m.topics.join(", ") || "–" },
    { label: "User", value: (m) => m.user_id },
    { label: "Updated", value: (m) => time(m.updated_at) },
    {
      label: "Actions",
      value: (m) => (writable
        ? h("div", { class: "actions" },
          button("Edit", (e) => editRow(e.target.closest("tr").firstChild, m), { kind: "ghost", "aria-label": `Edit memory: ${m.memory.slice(0, 40)}` }),
          button("Delete", async () => {
            if (!(await confirmDialog("Delete this memory?", { confirm: "Delete", danger: true }))) return;
            try {
              await api.del(`/v1/memories/${encodeURIComponent(m.id)}`, signal);
              toast("Memory deleted.");
              refresh();
            } catch (error) {
              if (error.name !== "AbortError") replace(problem, errorBox(error));
            }
          }, { kind: "ghost", "aria-label": `Delete memory: ${m.memory.slice(0, 40)}` }))
        : null),
    },
  ];

  async function refresh() {
    replace(problem);
    replace(list, spinner());
    try {
      const params = { user_id: user, limit: 50 };
      const page = await api.get("/v1/memories", params, signal);
      const rows = [...page.items];
      const draw = (cursor) => replace(list, table(columns, rows, { label: "Memories", empty: "No memories." }), pager(cursor, more));
      const more = async (cursor) => {
        const next = await api.get("/v1/memories", { ...params, cursor }, signal);
        rows.push(...next.items);
        draw(next.next_cursor);
        return null;
      };
      draw(page.next_cursor);
    } catch (error) {
      if (error.name !== "AbortError") replace(list, errorBox(error));
    }
  }

  append(panel, problem, list, writable ? addForm : null);
  refresh();
  return panel;
}

/** Every namespace the caller may list (`GET /v1/learnings/namespaces`), a few pages at most. */
async function namespacesOf(api, user, signal) {
  const found = [];
  let cursor = null;
  for (let pages = 0; pages < NAMESPACE_PAGES; pages += 1) {
    const page = await api.get("/v1/learnings/namespaces", { user_id: user, limit: 200, cursor }, signal);
    found.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return { namespaces: found, more: Boolean(cursor) };
}

const NAMESPACE_PAGES = 5;

function learningsPanel({ api, allows, signal, query }, user) {
  const wanted = query.get("namespace") || "";
  const namespace = h("select", { name: "namespace", required: true, disabled: true }, h("option", { value: "" }, "Loading…"));
  const kind = h("select", { name: "kind" }, h("option", { value: "" }, "any"));
  const note = h("p", { class: "muted", role: "status" });
  const list = h("div", { "aria-live": "polite" });
  const kindsOf = new Map();
  const columns = [
    { label: "Learning", value: (l) => h("span", { class: "mem-text" }, l.content) },
    { label: "Kind", value: (l) => l.kind },
    { label: "User", value: (l) => l.user_id || "shared" },
    { label: "Created", value: (l) => time(l.created_at) },
    {
      label: "Actions",
      value: (l) => (allows("memories:write")
        ? button("Delete", async () => {
          if (!(await confirmDialog("Delete this learning?", { confirm: "Delete", danger: true }))) return;
          try {
            await api.del(`/v1/learnings/${encodeURIComponent(l.id)}`, signal);
            toast("Learning deleted.");
            show();
          } catch (error) {
            if (error.name !== "AbortError") toast(error.message, "error");
          }
        }, { kind: "ghost", "aria-label": `Delete learning: ${l.content.slice(0, 40)}` })
        : null),
    },
  ];
  function offerKinds() {
    const kinds = kindsOf.get(namespace.value) || [];
    const keep = kinds.includes(kind.value) ? kind.value : "";
    replace(kind, h("option", { value: "" }, "any"), kinds.map((k) => h("option", { value: k }, k)));
    kind.value = keep;
  }
  let shown = 0;
  async function show() {
    if (!namespace.value) return;
    const mine = ++shown; // a later choice wins, whichever answer comes back first
    replace(list, spinner());
    try {
      const params = { namespace: namespace.value, kind: kind.value, user_id: user, limit: 50 };
      const page = await api.get("/v1/learnings", params, signal);
      if (mine !== shown) return;
      const rows = [...page.items];
      const more = (cursor) => api.get("/v1/learnings", { ...params, cursor }, signal).then((next) => {
        rows.push(...next.items);
        replace(list, table(columns, rows, { label: "Learnings", empty: "No learnings." }), pager(next.next_cursor, more));
        return null;
      });
      replace(list, table(columns, rows, { label: "Learnings", empty: "No learnings in this namespace." }), pager(page.next_cursor, more));
    } catch (error) {
      if (error.name !== "AbortError") replace(list, errorBox(error));
    }
  }
  async function load() {
    try {
      const { namespaces, more } = await namespacesOf(api, user, signal);
      if (!namespaces.length) {
        replace(namespace, h("option", { value: "" }, "none"));
        replace(list, emptyState(user ? `No learnings visible to ${user} yet.` : "No learnings yet: agents file what they learn under a namespace."));
        return;
      }
      for (const n of namespaces) kindsOf.set(n.namespace, n.kinds);
      replace(namespace, namespaces.map((n) => h("option", { value: n.namespace }, `${n.namespace} (${n.learnings})`)));
      namespace.disabled = false;
      namespace.value = kindsOf.has(wanted) ? wanted : namespaces[0].namespace;
      replace(note, more ? `Showing the first ${namespaces.length} namespaces.` : "");
      offerKinds();
      show();
    } catch (error) {
      if (error.name !== "AbortError") replace(list, errorBox(error));
    }
  }
  namespace.addEventListener("change", () => { offerKinds(); show(); });
  kind.addEventListener("change", () => show());
  const form = h("form", { onsubmit: (e) => { e.preventDefault(); show(); } },
    toolbar(field("Namespace", namespace), field("Kind", kind), button("Show learnings", null, { kind: "primary", type: "submit" })));
  load();
  return h("div", { class: "mem-panel" }, form, note, list);
}

function profilePanel({ api, allows, signal }, user) {
  const panel = h("div", { class: "mem-panel", "aria-live": "polite" });
  if (!user) {
    append(panel, emptyState("Enter a user id above to see their profile."));
    return panel;
  }
  const path = `/v1/users/${encodeURIComponent(user)}/profile`;
  const editor = h("textarea", { rows: 10, class: "mono", spellcheck: "false" });
  const problem = h("div");
  const view = h("div");

  async function load() {
    replace(problem);
    replace(view, spinner());
    let profile = null;
    try {
      profile = await api.get(path, null, signal);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (error.status !== 404) {
        replace(view, errorBox(error));
        return;
      }
    }
    editor.value = JSON.stringify(profile ? profile.data : {}, null, 2);
    replace(view,
      profile
        ? h("p", { class: "muted" }, "Updated ", time(profile.updated_at), ".")
        : h("p", { class: "muted" }, `No profile for ${user} yet.`),
      profile ? json(profile.data) : null,
      allows("memories:write")
        ? h("form", {
          class: "mem-profile-edit",
          onsubmit: async (e) => {
            e.preventDefault();
            let data;
            try {
              data = JSON.parse(editor.value);
            } catch (error) {
              replace(problem, errorBox({ message: `Not JSON: ${error.message}` }));
              return;
            }
            if (!data || typeof data !== "object" || Array.isArray(data)) {
              replace(problem, errorBox({ message: "The profile is a JSON object: {\"field\": value, ...}" }));
              return;
            }
            try {
              await api.put(path, { data }, signal);
              toast("Profile saved.");
              load();
            } catch (error) {
              if (error.name !== "AbortError") replace(problem, errorBox(error));
            }
          },
        },
        field("Profile (JSON object)", editor),
        h("div", { class: "actions" },
          button("Save profile", null, { kind: "primary", type: "submit" }),
          profile ? button("Delete profile", async () => {
            if (!(await confirmDialog(`Delete the profile of ${user}?`, { confirm: "Delete", danger: true }))) return;
            try {
              await api.del(path, signal);
              toast("Profile deleted.");
              load();
            } catch (error) {
              if (error.name !== "AbortError") replace(problem, errorBox(error));
            }
          }, { kind: "danger" }) : null))
        : null);
  }
  append(panel, problem, view);
  load();
  return panel;
}

/**
 * The users the agents know something about (`GET /v1/memories/users`), the most recently
 * changed first: a table of links (with "Load more") and the options of the user box.
 */
function usersList({ api, signal }, known, current) {
  const list = h("div", { "aria-live": "polite" }, spinner());
  const rows = [];
  const columns = [
    { label: "User", value: (u) => (u.user_id === current ? h("strong", { "aria-current": "true" }, u.user_id) : link(`memories?user=${encodeURIComponent(u.user_id)}`, u.user_id)) },
    { label: "Memories", value: (u) => number(u.memories) },
    { label: "Last change", value: (u) => time(u.updated_at) },
  ];
  const draw = (cursor) => replace(list, table(columns, rows, { label: "Users", empty: "No user has memories, a profile or learnings yet." }), pager(cursor, more));
  const add = (page) => {
    rows.push(...page.items);
    append(known, ...page.items.map((u) => h("option", { value: u.user_id })));
    draw(page.next_cursor);
    return null;
  };
  const more = (cursor) => api.get("/v1/memories/users", { limit: USERS_PAGE, cursor }, signal).then(add);
  api.get("/v1/memories/users", { limit: USERS_PAGE }, signal).then(add, (error) => {
    if (error.name !== "AbortError") replace(list, errorBox(error));
  });
  return h("details", { class: "mem-users", open: !current },
    h("summary", null, "Known users"), list);
}

const USERS_PAGE = 50;

export default async function render(ctx) {
  const { root, me, allows, setTitle, query, navigate } = ctx;
  setTitle("Memories");
  append(root, header("Memories and learnings", { subtitle: "What the agents remember and learned about a user, and the user's profile." }));
  if (!allows("memories:read")) {
    append(root, emptyState("This token cannot read memories (it lacks memories:read)."));
    return;
  }
  let user = me.user_id || null;
  if (me.admin) {
    user = (query.get("user") || "").trim() || (me.auth === "none" ? null : me.user_id) || null;
    const known = h("datalist", { id: "mem-known-users" });
    const box = h("input", { name: "user", maxlength: 255, value: user || "", placeholder: "every user", list: "mem-known-users", autocomplete: "off" });
    append(root, h("form", {
      class: "mem-user",
      onsubmit: (e) => {
        e.preventDefault();
        const value = box.value.trim();
        navigate(value ? `memories?user=${encodeURIComponent(value)}` : "memories");
      },
    }, toolbar(field("User id", box, "Type an id, or pick one of the users below."), known, button("Show", null, { type: "submit" }))));
    append(root, usersList(ctx, known, user));
  }
  const section = h("div");
  append(root, section);
  if (!user && me.admin) append(section, h("p", { class: "muted" }, "Showing every user's memories of the tenant; pick a user (or enter an id) to see one user's, and their profile."));
  append(section, tabs([
    { id: "memories", label: "Memories", render: () => memoriesPanel(ctx, user) },
    { id: "learnings", label: "Learnings", render: () => learningsPanel(ctx, user) },
    { id: "profile", label: "Profile", render: () => profilePanel(ctx, user) },
  ], ["memories", "learnings", "profile"].includes(query.get("tab")) ? query.get("tab") : "memories"));
}
