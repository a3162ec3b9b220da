// Safe markdown for model answers: paragraphs, headings, lists, quotes, fenced code, inline
// code, emphasis and links. Built with h() from text nodes only, so whatever a model writes
// (`<img onerror=...>`, `<script>`) stays text. Links go only to http(s) addresses and open in
// a new tab without an opener; anything else is shown as the text it is.
//
// A streamed answer grows token by token: `renderMarkdown(el, text, cache)` splits the text
// into blocks and rebuilds only the blocks that changed (usually the last), so a long answer
// costs a little per token instead of a full re-render.
import { h } from "./dom.js";

/** Whether `href` is an absolute http(s) address (the only links the console makes). */
export function safeHref(href) {
  try {
    const parsed = new URL(href);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

const link = (href, children) => {
  const safe = safeHref(href);
  return safe ? h("a", { href: safe, target: "_blank", rel: "noopener noreferrer" }, children) : null;
};

// One regex finds the earliest inline construct; the text before it stays text.
const INLINE = new RegExp([
  /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/.source, // 1,2: code span
  /\*\*(?=\S)([\s\S]*?\S)\*\*/.source, // 3: strong
  /(?<![\w_])__(?=\S)([\s\S]*?\S)__(?![\w_])/.source, // 4: strong
  /\*(?=[^\s*])([\s\S]*?[^\s*])\*/.source, // 5: em
  /(?<![\w_])_(?=[^\s_])([\s\S]*?[^\s_])_(?![\w_])/.source, // 6: em
  /\[([^\]\n]+)\]\(([^()\s]+)\)/.source, // 7,8: link
  /\bhttps?:\/\/[^\s<>()"'`]+[^\s<>()"'`.,;:!?]/.source, // 0: a bare address
].join("|"));

/** Inline markdown of one block's text, as an array of nodes and strings. */
export function inline(text) {
  const out = [];
  let rest = text;
  while (rest) {
    const m = INLINE.exec(rest);
    if (!m) { out.push(rest); break; }
    if (m.index) out.push(rest.slice(0, m.index));
    const [all, , code, strong1, strong2, em1, em2, label, href] = m;
    if (code !== undefined) out.push(h("code", null, code.replace(/^ (.*) $/s, "$1")));
    else if (strong1 !== undefined || strong2 !== undefined) out.push(h("strong", null, inline(strong1 ?? strong2)));
    else if (em1 !== undefined || em2 !== undefined) out.push(h("em", null, inline(em1 ?? em2)));
    else if (label !== undefined) out.push(link(href, inline(label)) || all);
    else out.push(link(all, all) || all);
    rest = rest.slice(m.index + all.length);
  }
  return out;
}

/** Lines joined with <br> (a chat model's single newline is a line break). */
const lines = (text) => text.split("\n").flatMap((line, i) => (i ? [h("br"), ...inline(line)] : inline(line)));

const FENCE = /^ {0,3}(```+|~~~+)\s*([\w+.-]*)\s*$/;
const BULLET = /^ {0,3}[-*+]\s+/;
const ORDERED = /^ {0,3}(\d{1,9})[.)]\s+/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const QUOTE = /^ {0,3}>\s?/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;

/**
 * Split markdown into block sources: a fenced code block (to its closing fence, or to the end
 * while it streams), or a run of non-blank lines. Blank lines separate blocks.
 */
export function blocks(text) {
  const out = [];
  const all = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < all.length) {
    if (!all[i].trim()) { i++; continue; }
    const fence = FENCE.exec(all[i]);
    if (fence) {
      let j = i + 1;
      while (j < all.length && !(all[j].trim().startsWith(fence[1]) && !all[j].trim().slice(fence[1].length).trim())) j++;
      out.push(all.slice(i, Math.min(j + 1, all.length)).join("\n"));
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < all.length && all[j].trim() && !(j > i && FENCE.test(all[j]))) j++;
    out.push(all.slice(i, j).join("\n"));
    i = j;
  }
  return out;
}

function list(source, ordered) {
  const pattern = ordered ? ORDERED : BULLET;
  const items = [];
  for (const line of source.split("\n")) {
    if (pattern.test(line)) items.push([line.replace(pattern, "")]);
    else if (items.length) items[items.length - 1].push(line.trim());
    else items.push([line]);
  }
  const start = ordered ? Number(ORDERED.exec(source)[1]) : null;
  return h(ordered ? "ol" : "ul", start && start !== 1 ? { start } : null,
    items.map((item) => h("li", null, lines(item.join("\n")))));
}

/** One block source as one element. */
export function block(source) {
  const first = source.split("\n", 1)[0];
  const fence = FENCE.exec(first);
  if (fence) {
    const body = source.split("\n").slice(1);
    if (body.length && body[body.length - 1].trim().startsWith(fence[1])) body.pop();
    return h("pre", { class: "chat-code" }, h("code", { dataset: fence[2] ? { lang: fence[2] } : null }, body.join("\n")));
  }
  const heading = HEADING.exec(first);
  if (heading && !source.includes("\n")) {
    const level = Math.min(6, heading[1].length + 1);
    return h(`h${level}`, null, inline(heading[2]));
  }
  if (RULE.test(source)) return h("hr");
  if (BULLET.test(first)) return list(source, false);
  if (ORDERED.test(first)) return list(source, true);
  if (QUOTE.test(first)) {
    return h("blockquote", null, lines(source.split("\n").map((l) => l.replace(QUOTE, "")).join("\n")));
  }
  return h("p", null, lines(source));
}

/**
 * Render `text` into `el`, reusing the elements of blocks that did not change since the last
 * call with the same `cache` (an object the caller keeps per element).
 */
export function renderMarkdown(el, text, cache = {}) {
  const sources = blocks(text);
  const old = cache.sources || [];
  const nodes = cache.nodes || [];
  let same = 0;
  while (same < sources.length && same < old.length && sources[same] === old[same]) same++;
  for (const node of nodes.splice(same)) node.remove();
  for (const source of sources.slice(same)) {
    const node = block(source);
    nodes.push(node);
    el.append(node);
  }
  cache.sources = sources;
  cache.nodes = nodes;
  return el;
}
