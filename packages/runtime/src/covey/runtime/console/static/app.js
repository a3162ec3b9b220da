// The console's shell: sign-in, navigation, theme, and a router that loads each screen's module
// only when it is opened (so the first load carries the shell and nothing else).
import * as api from "./lib/api.js";
import { h, replace, $ } from "./lib/dom.js";
import { button, errorBox, field, toast } from "./lib/ui.js";

const BASE = "/console/";

// [pattern, module under views/, nav section it belongs to]. `:name` matches one path segment.
const ROUTES = [
  ["", "home"],
  ["chat", "chat", "chat"],
  ["chat/:kind/:id", "chat", "chat"],
  ["chat/:kind/:id/:session", "chat", "chat"],
  ["sessions", "sessions", "sessions"],
  ["sessions/:id", "sessions", "sessions"],
  ["runs", "runs", "runs"],
  ["runs/:id", "runs", "runs"],
  ["approvals", "approvals", "approvals"],
  ["traces", "traces", "traces"],
  ["traces/:id", "traces", "traces"],
  ["memories", "memories", "memories"],
  ["knowledge", "knowledge", "knowledge"],
  ["knowledge/:kb", "knowledge", "knowledge"],
  ["schedules", "schedules", "schedules"],
  ["schedules/:id", "schedules", "schedules"],
  ["evals", "evals", "evals"],
  ["evals/:id", "evals", "evals"],
  ["workflows/:id", "workflow", "chat"],
  ["plugins", "plugins", "plugins"],
];

// The navigation: [section, label, scope needed (or null), feature needed (or null)].
const NAV = [
  ["chat", "Chat", "agents:read", null],
  ["sessions", "Sessions", "sessions:read", null],
  ["runs", "Runs", "runs:read", null],
  ["approvals", "Approvals", "runs:read", null],
  ["traces", "Traces", "runs:read", "traces"],
  ["memories", "Memories", "memories:read", null],
  ["knowledge", "Knowledge", "knowledge:read", "knowledge"],
  ["schedules", "Schedules", "schedules:read", null],
  ["evals", "Evals", "admin", "evals"],
  ["plugins", "Plugins", "admin", null],
];

let me = null;
let current = null; // {controller}: the open screen, aborted when another opens

/** Whether the signed-in caller holds `scope` (admin holds every scope). */
export const allows = (scope) => !scope || (me && (me.admin || me.scopes.includes(scope)));

function match(path) {
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const [pattern, module, section] of ROUTES) {
    const want = pattern.split("/").filter(Boolean);
    if (want.length !== parts.length) continue;
    const params = {};
    if (want.every((w, i) => (w.startsWith(":") ? ((params[w.slice(1)] = parts[i]), true) : w === parts[i]))) {
      return { module, section, params };
    }
  }
  return null;
}

/** Open `path` (relative to /console/), adding a history entry unless `replaceState`. */
export function navigate(path, { replaceState = false } = {}) {
  const target = BASE + path.replace(/^\/+/, "");
  if (replaceState) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  return render();
}

async function render() {
  const main = $("#main");
  if (current) current.controller.abort();
  const controller = new AbortController();
  current = { controller };
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : "";
  const found = match(path);
  markNav(found && found.section);
  closeMenu();
  if (!found) {
    replace(main, h("h1", null, "Not found"), h("p", null, "No screen at this address. ", h("a", { href: BASE }, "Back to the start")));
    return;
  }
  try {
    const view = await import(`./views/${found.module}.js`);
    if (controller.signal.aborted) return;
    replace(main);
    await view.default({
      root: main,
      params: found.params,
      query: new URLSearchParams(location.search),
      me,
      api,
      allows,
      navigate,
      signal: controller.signal,
      setTitle: (title) => { document.title = `${title} · Covey console`; },
    });
  } catch (error) {
    if (error.name === "AbortError" || controller.signal.aborted) return;
    console.error(error);
    replace(main, errorBox(error));
  }
}

function markNav(section) {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.section === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function buildNav() {
  const items = NAV.filter(([, , scope, feature]) => allows(scope) && (!feature || me.features[feature]))
    .map(([section, label]) => h("li", null, h("a", { href: BASE + section, dataset: { section } }, label)));
  const who = me.auth === "none"
    ? "auth off (loopback)"
    : `${me.user_id || "service"} · ${me.tenant_id}${me.admin ? " · admin" : ""}`;
  replace($("#who"), who);
  replace($("#nav"),
    h("ul", null, items),
    me.auth === "none" ? null : h("div", { class: "nav-footer" }, button("Sign out", signOut, { kind: "ghost" })));
}

function signOut() {
  api.token.clear();
  me = null;
  showSignIn();
}

function showSignIn(problem) {
  replace($("#nav"));
  replace($("#who"));
  document.title = "Sign in · Covey console";
  const input = h("textarea", { name: "token", rows: 4, required: true, autocomplete: "off", spellcheck: "false", class: "mono" });
  const form = h("form", {
    class: "card signin",
    onsubmit: async (e) => {
      e.preventDefault();
      api.token.set(input.value);
      await start();
    },
  },
    h("h1", null, "Sign in"),
    h("p", { class: "muted" }, "This server needs a bearer token (a JWT its auth settings accept). The console keeps it in this tab only."),
    problem ? errorBox(problem) : null,
    field("Bearer token", input),
    button("Sign in", null, { kind: "primary", type: "submit" }));
  replace($("#main"), form);
  input.focus();
}

async function start() {
  try {
    me = await api.get("/v1/me");
  } catch (error) {
    if (error.status === 401) {
      const hadToken = Boolean(api.token.get());
      api.token.clear();
      showSignIn(hadToken ? error : null);
      return;
    }
    replace($("#main"), errorBox(error));
    return;
  }
  buildNav();
  await render();
}

function closeMenu() {
  document.body.classList.remove("menu-open");
  $(".menu-toggle").setAttribute("aria-expanded", "false");
}

function setupChrome() {
  const saved = localStorage.getItem("covey.theme");
  if (saved) document.documentElement.dataset.theme = saved;
  $("#theme").addEventListener("click", () => {
    const dark = document.documentElement.dataset.theme
      ? document.documentElement.dataset.theme === "dark"
      : matchMedia("(prefers-color-scheme: dark)").matches;
    const next = dark ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("covey.theme", next);
  });
  $(".menu-toggle").addEventListener("click", () => {
    const open = document.body.classList.toggle("menu-open");
    $(".menu-toggle").setAttribute("aria-expanded", String(open));
  });
  // Links inside the console open without reloading the page.
  document.addEventListener("click", (e) => {
    const a = e.target.closest("a[href]");
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const target = new URL(a.href, location.href);
    if (target.origin !== location.origin || !target.pathname.startsWith(BASE) || a.target) return;
    e.preventDefault();
    history.pushState(null, "", target.pathname + target.search);
    render().then(() => $("#main").focus({ preventScroll: true }));
  });
  window.addEventListener("popstate", () => render());
  window.addEventListener("covey:unauthorized", () => {
    if (me && me.auth !== "none") {
      toast("Your token was refused (expired or revoked): sign in again.", "error");
      signOut();
    }
  });
}

setupChrome();
start();
