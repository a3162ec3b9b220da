// Knowledge bases: the list (`knowledge`), and one base (`knowledge/:kb`) with its documents,
// an upload area (file picker and drag-and-drop, a progress bar per file, then each document's
// ingestion followed over its event stream) and a search box.
import { h, append as appendAll, replace } from "../lib/dom.js";
import {
  badge, button, confirmDialog, emptyState, errorBox, field, header, link, number, pager,
  spinner, table, time, toast, toolbar,
} from "../lib/ui.js";

/** Append any number of children (null and false skipped). */
const append = (el, ...children) => appendAll(el, children);

const BUSY = new Set(["pending", "processing"]);
const REFRESH_MS = 1000;
const ACCEPT = ".txt,.text,.md,.markdown,.csv,.json,.html,.htm,.pdf,.docx";

const kbPath = (kb) => `/v1/knowledge/${encodeURIComponent(kb)}`;

function bytes(n) {
  if (n === null || n === undefined) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

async function listBases({ root, api, me, signal, setTitle }) {
  setTitle("Knowledge");
  append(root, header("Knowledge", { subtitle: "The knowledge bases this server serves: upload documents, follow their ingestion, search them." }));
  if (!me.features.knowledge) {
    append(root, emptyState("This server serves no knowledge base (give the registry a Knowledge to serve one)."));
    return;
  }
  const box = append(h("div"), spinner());
  append(root, box);
  try {
    const { items } = await api.get("/v1/knowledge", null, signal);
    replace(box, items.length
      ? h("div", { class: "cards" }, items.map((kb) => h("section", { class: "card", "aria-label": kb.name },
        h("h2", null, link(`knowledge/${encodeURIComponent(kb.name)}`, kb.name)),
        h("p", { class: "muted" }, kb.description || "No description."))))
      : emptyState("No knowledge base."));
  } catch (error) {
    if (error.name !== "AbortError") replace(box, errorBox(error));
  }
}

/** The documents table, refreshed every second while any document is still ingesting. */
function contentsSection(ctx, kb) {
  const { api, signal, allows } = ctx;
  const box = h("div", { "aria-live": "polite" });
  let timer = null;
  signal.addEventListener("abort", () => clearTimeout(timer));

  const columns = [
    { label: "Document", value: (c) => h("span", { class: "kn-name" }, c.name) },
    { label: "Status", value: (c) => h("span", { title: c.status_message || "" }, badge(c.status), c.status === "failed" && c.status_message ? h("small", { class: "muted kn-why" }, ` ${c.status_message}`) : null) },
    { label: "Chunks", value: (c) => number(c.chunk_count), class: "num" },
    { label: "Size", value: (c) => bytes(c.size), class: "num" },
    { label: "Owner", value: (c) => (c.shared ? "shared" : c.user_id || "–") },
    { label: "Updated", value: (c) => time(c.updated_at) },
    {
      label: "Actions",
      value: (c) => (allows("knowledge:write")
        ? button("Delete", async () => {
          if (!(await confirmDialog(`Delete ${c.name} and its chunks?`, { confirm: "Delete", danger: true }))) return;
          try {
            await api.del(`${kbPath(kb)}/contents/${encodeURIComponent(c.content_id)}`);
            toast(`${c.name} deleted.`);
            refresh();
          } catch (error) {
            toast(error.message, "error");
          }
        }, { kind: "ghost", "aria-label": `Delete ${c.name}` })
        : null),
    },
  ];

  async function refresh() {
    clearTimeout(timer);
    if (signal.aborted) return;
    try {
      const page = await api.get(`${kbPath(kb)}/contents`, { limit: 100 }, signal);
      const rows = [...page.items];
      const more = pager(page.next_cursor, async (cursor) => {
        const next = await api.get(`${kbPath(kb)}/contents`, { limit: 100, cursor }, signal);
        rows.push(...next.items);
        draw(rows, null);
        return next.next_cursor;
      });
      draw(rows, more);
      if (rows.some((c) => BUSY.has(c.status))) timer = setTimeout(refresh, REFRESH_MS);
    } catch (error) {
      if (error.name !== "AbortError") replace(box, errorBox(error));
    }
  }

  function draw(rows, more) {
    replace(box, table(columns, rows, { label: `Documents of ${kb}`, empty: "No documents yet: upload some above." }), more);
  }

  return { box, refresh };
}

/** One file's line in the upload list: a progress bar, then its ingestion status. */
function uploadItem(file) {
  const bar = h("progress", { max: file.size || 1, value: 0, "aria-label": `Upload of ${file.name}` });
  const status = h("span", { class: "kn-upload-status", role: "status" }, "uploading…");
  const item = h("li", { class: "kn-upload" }, h("span", { class: "kn-name" }, file.name), bar, status);
  return {
    item,
    progress(sent, total) {
      bar.max = total || file.size || 1;
      bar.value = sent;
    },
    state(text, kind) {
      replace(status, kind ? badge(kind) : null, kind ? " " : null, text);
    },
    done() {
      bar.value = bar.max;
    },
  };
}

function uploadSection(ctx, kb, onChange) {
  const { api, signal, me } = ctx;
  const list = h("ul", { class: "plain kn-uploads", "aria-label": "Uploads" });
  const input = h("input", { type: "file", multiple: true, accept: ACCEPT, class: "kn-file" });
  const share = me.admin && me.auth !== "none" ? h("input", { type: "checkbox" }) : null;

  async function follow(entry, content) {
    entry.state(content.status, content.status);
    if (!BUSY.has(content.status)) return;
    let last = content.status;
    try {
      await api.stream("GET", content.events_url, {
        signal,
        onEvent: ({ event, data }) => {
          if (event === "content") {
            last = data.status;
            entry.state(data.status_message && data.status === "failed" ? data.status_message : "", data.status);
            onChange();
          } else if (event === "progress" && data && data.chunks_total) {
            entry.state(`${data.stage || "ingesting"} ${data.chunks_done || 0}/${data.chunks_total} chunks`, last);
          }
        },
      });
    } catch (error) {
      if (error.name === "AbortError") return;
      entry.state(error.message, "error");
    }
    onChange();
  }

  async function send(files) {
    for (const file of files) {
      const entry = uploadItem(file);
      list.prepend(entry.item);
      const form = new FormData();
      form.append("file", file, file.name);
      if (share && share.checked) form.append("shared", "true");
      api.upload(`${kbPath(kb)}/contents`, form, { signal, onProgress: entry.progress })
        .then((accepted) => {
          entry.done();
          onChange();
          for (const content of accepted.items) follow(entry, content);
        })
        .catch((error) => {
          if (error.name !== "AbortError") entry.state(error.message, "failed");
        });
    }
  }

  input.addEventListener("change", () => {
    const files = [...input.files];
    input.value = "";
    send(files);
  });
  const zone = h("div", { class: "kn-drop" },
    h("p", null, "Drop files here, or choose them."),
    field("Add documents", input, ".txt .md .csv .json .html .pdf .docx — each file is uploaded, then read, chunked and embedded in the background."),
    share ? h("label", { class: "kn-share" }, share, " Share with the whole tenant") : null);
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("kn-over"); });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("kn-over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("kn-over");
    if (e.dataTransfer && e.dataTransfer.files.length) send([...e.dataTransfer.files]);
  });
  return h("section", { class: "card kn-section", "aria-label": "Upload" }, h("h2", null, "Upload"), zone, list);
}

function searchSection({ api, signal }, kb) {
  const query = h("input", { type: "search", name: "query", required: true, maxlength: 4096, placeholder: "What to look for" });
  const mode = h("select", { name: "mode" },
    h("option", { value: "hybrid" }, "hybrid (meaning and words)"),
    h("option", { value: "vector" }, "vector (meaning)"),
    h("option", { value: "text" }, "text (words)"));
  const results = h("div", { class: "kn-results", "aria-live": "polite" });
  const form = h("form", {
    onsubmit: async (e) => {
      e.preventDefault();
      replace(results, spinner("Searching…"));
      try {
        const { items } = await api.request("POST", `${kbPath(kb)}/search`, { body: { query: query.value, mode: mode.value, k: 10 }, signal });
        replace(results, items.length
          ? h("ol", { class: "plain kn-hits", "aria-label": "Results" }, items.map((hit) => h("li", { class: "kn-hit" },
            h("div", { class: "kn-hit-head" },
              h("strong", null, hit.name || hit.content_id || hit.id),
              h("span", { class: "badge" }, `score ${Number(hit.score).toFixed(3)}`),
              hit.source ? h("span", { class: "muted" }, hit.source) : null,
              hit.metadata && hit.metadata.heading ? h("span", { class: "muted" }, `§ ${hit.metadata.heading}`) : null),
            h("p", { class: "kn-text" }, hit.text))))
          : emptyState("Nothing found."));
      } catch (error) {
        if (error.name !== "AbortError") replace(results, errorBox(error));
      }
    },
  },
  toolbar(field("Search", query), field("Mode", mode), button("Search", null, { kind: "primary", type: "submit" })));
  return h("section", { class: "card kn-section", "aria-label": "Search" }, h("h2", null, "Search"), form, results);
}

async function showBase(ctx) {
  const { root, params, api, signal, setTitle, allows } = ctx;
  const kb = params.kb;
  setTitle(`Knowledge ${kb}`);
  let info = null;
  try {
    const { items } = await api.get("/v1/knowledge", null, signal);
    info = items.find((item) => item.name === kb) || null;
  } catch (error) {
    if (error.name === "AbortError") return;
    append(root, errorBox(error));
    return;
  }
  if (!info) {
    append(root, header(`Knowledge ${kb}`), errorBox({ message: `No knowledge base ${kb} is served here.` }), link("knowledge", "All knowledge bases"));
    return;
  }
  const contents = contentsSection(ctx, kb);
  append(root,
    header(kb, { subtitle: info.description || "A knowledge base.", actions: [link("knowledge", "All knowledge bases")] }),
    h("div", { class: "kn-grid" },
      allows("knowledge:write") ? uploadSection(ctx, kb, () => contents.refresh()) : null,
      searchSection(ctx, kb)),
    h("section", { class: "kn-section", "aria-label": "Documents" }, h("h2", null, "Documents"), contents.box));
  await contents.refresh();
}

export default async function render(ctx) {
  if (!ctx.allows("knowledge:read")) {
    append(ctx.root, header("Knowledge"), emptyState("This token cannot read knowledge (it lacks knowledge:read)."));
    return;
  }
  if (ctx.params.kb) return showBase(ctx);
  return listBases(ctx);
}
