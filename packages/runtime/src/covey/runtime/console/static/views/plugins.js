// The Covey plugins installed on this server, grouped by kind (models, embedders, tools,
// vector stores, stores...), with the distribution that provides each and its version.
import { h, append as appendAll, replace } from "../lib/dom.js";
import { emptyState, errorBox, field, header, spinner, table, toolbar } from "../lib/ui.js";

/** Append any number of children (null and false skipped). */
const append = (el, ...children) => appendAll(el, children);

export default async function render({ root, api, allows, signal, setTitle }) {
  setTitle("Plugins");
  append(root, header("Plugins", { subtitle: "Installed through entry points (covey.<kind>); listed without importing them." }));
  if (!allows("admin")) {
    append(root, emptyState("Listing plugins needs the admin scope."));
    return;
  }
  const box = h("div", { "aria-live": "polite" }, spinner());
  append(root, box);
  let plugins;
  try {
    plugins = await api.get("/v1/plugins", null, signal);
  } catch (error) {
    if (error.name !== "AbortError") replace(box, errorBox(error));
    return;
  }
  const filter = h("input", { type: "search", placeholder: "name, kind or distribution" });
  const groups = h("div", { class: "pl-groups" });
  const columns = [
    { label: "Name", value: (p) => h("strong", null, p.name) },
    { label: "Distribution", value: (p) => p.distribution },
    { label: "Version", value: (p) => h("span", { class: "mono" }, p.version) },
    { label: "Target", value: (p) => h("span", { class: "mono pl-target" }, p.target) },
  ];
  const draw = () => {
    const words = filter.value.trim().toLowerCase();
    const shown = plugins.filter((p) => !words || `${p.kind} ${p.name} ${p.distribution}`.toLowerCase().includes(words));
    const kinds = [...new Set(shown.map((p) => p.kind))].sort();
    const distributions = new Set(plugins.map((p) => p.distribution));
    replace(groups,
      h("p", { class: "muted" }, `${plugins.length} plugins from ${distributions.size} distributions.`),
      kinds.length
        ? kinds.map((kind) => {
          const rows = shown.filter((p) => p.kind === kind).sort((a, b) => a.name.localeCompare(b.name));
          return h("section", { class: "pl-group", "aria-label": kind },
            h("h2", null, kind, " ", h("span", { class: "muted" }, `(${rows.length})`)),
            table(columns, rows, { label: `${kind} plugins` }));
        })
        : emptyState(plugins.length ? "No plugin matches." : "No plugins installed."));
  };
  filter.addEventListener("input", draw);
  replace(box, toolbar(field("Filter", filter)), groups);
  draw();
}
