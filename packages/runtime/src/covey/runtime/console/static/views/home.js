// The start screen: what this server serves, each with a way to talk to it.
import { h, append } from "../lib/dom.js";
import { header, link, errorBox, spinner } from "../lib/ui.js";

const KINDS = [
  ["agents", "agent", "Agents"],
  ["teams", "team", "Teams"],
  ["workflows", "workflow", "Workflows"],
];

export default async function render({ root, api, allows, setTitle, signal }) {
  setTitle("Overview");
  append(root, header("Overview", { subtitle: "What this server serves." }));
  if (!allows("agents:read")) {
    append(root, h("p", { class: "muted" }, "This token cannot list agents (it lacks agents:read)."));
    return;
  }
  const box = h("div", { class: "cards" }, spinner());
  append(root, box);
  try {
    const lists = await Promise.all(KINDS.map(([path]) => api.get(`/v1/${path}`, null, signal)));
    box.replaceChildren();
    KINDS.forEach(([, kind, label], i) => {
      const items = lists[i].items || lists[i];
      append(box, h("section", { class: "card", "aria-label": label },
        h("h2", null, label, " ", h("span", { class: "muted" }, `(${items.length})`)),
        items.length
          ? h("ul", { class: "plain" }, items.map((item) => {
            const id = item.agent_id || item.team_id || item.workflow_id || item.name;
            return h("li", null,
              link(`chat/${kind}/${encodeURIComponent(id)}`, id),
              item.description ? h("span", { class: "muted" }, ` — ${item.description}`) : null,
              kind === "workflow" ? h("span", null, " · ", link(`workflows/${encodeURIComponent(id)}`, "diagram")) : null);
          }))
          : h("p", { class: "muted" }, `No ${label.toLowerCase()}.`)));
    });
  } catch (error) {
    box.replaceChildren(errorBox(error));
  }
}
