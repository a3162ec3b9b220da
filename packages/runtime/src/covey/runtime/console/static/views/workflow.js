// A workflow drawn as a diagram: its step tree (GET /v1/workflows/{id} `steps`) laid out top to
// bottom as SVG boxes and arrows, parallel branches and a router's choices side by side, a loop
// with its limit and a way back. Built with h("svg:...") only (no library, no markup strings);
// the server's Mermaid text is there too, to copy into a README.
import { h, append as appendAll } from "../lib/dom.js";
import { button, errorBox, header, link, spinner, toast } from "../lib/ui.js";

/** Append any number of children (null and false skipped). */
const append = (el, ...children) => appendAll(el, children);

const BOX_H = 46; // a step's box
const GAP = 30; // between boxes of a sequence (room for an arrow)
const SIDE = 24; // between side-by-side branches
const PAD = 14; // inside a group's frame
const LABEL_H = 22; // a group's title line
const CHAR_W = 7.4; // a rough width of one character at the diagram's font size
const MAX_CHARS = 30;

const GROUP_TITLES = {
  steps: "steps",
  parallel: "parallel",
  condition: "condition",
  loop: "loop",
  router: "router: one of",
};

const clip = (text) => (text.length > MAX_CHARS ? `${text.slice(0, MAX_CHARS - 1)}…` : text);
const textWidth = (text) => clip(text).length * CHAR_W;

/** A line with an arrowhead from (x1, y1) to (x2, y2). */
const arrow = (x1, y1, x2, y2, cls = "wf-arrow") =>
  h("svg:line", { class: cls, x1, y1, x2, y2, "marker-end": "url(#wf-head)" });

const label = (x, y, text, cls) => h("svg:text", { x, y, class: cls, "text-anchor": "middle" }, clip(text));

/** A step that runs something (an agent, team, workflow or function): one box. */
function leaf(step) {
  const name = step.name || step.runs || step.kind || "step";
  const detail = step.runs || step.kind || "";
  const w = Math.max(130, textWidth(name) + 28, textWidth(detail) * 0.9 + 28);
  return {
    w, h: BOX_H,
    draw(x, y) {
      return h("svg:g", { class: ["wf-step", `wf-kind-${String(step.kind || "step").replace(/[^a-z]/gi, "")}`] },
        h("svg:title", null, [name, detail, step.description].filter(Boolean).join(" — ")),
        h("svg:rect", { class: "wf-box", x, y, width: w, height: BOX_H, rx: 8 }),
        label(x + w / 2, y + 19, name, "wf-name"),
        detail && detail !== name ? label(x + w / 2, y + 36, detail, "wf-detail") : null);
    },
  };
}

/** Steps one after the other, centred, an arrow between each. */
const sequence = (steps) => stack(steps.map(layout));

/** Laid-out parts one after the other, centred, an arrow between each. */
function stack(parts) {
  if (!parts.length) return { w: 120, h: 24, draw: (x, y) => label(x + 60, y + 16, "(no steps)", "wf-detail") };
  const w = Math.max(...parts.map((p) => p.w));
  const height = parts.reduce((sum, p) => sum + p.h, 0) + GAP * (parts.length - 1);
  return {
    w, h: height,
    draw(x, y) {
      const out = [];
      let top = y;
      parts.forEach((part, i) => {
        if (i) out.push(arrow(x + w / 2, top - GAP, x + w / 2, top - 2));
        out.push(part.draw(x + (w - part.w) / 2, top));
        top += part.h + GAP;
      });
      return h("svg:g", null, out);
    },
  };
}

/** Branches side by side (parallel, router): fork arrows from the top, join arrows below. */
function branches(steps, cls) {
  const parts = steps.map(layout);
  const w = parts.reduce((sum, p) => sum + p.w, 0) + SIDE * Math.max(0, parts.length - 1);
  const tallest = Math.max(0, ...parts.map((p) => p.h));
  const height = tallest + 2 * GAP;
  return {
    w, h: height,
    draw(x, y) {
      const out = [];
      let left = x;
      for (const part of parts) {
        const cx = left + part.w / 2;
        out.push(arrow(x + w / 2, y, cx, y + GAP - 2, cls));
        out.push(part.draw(left, y + GAP));
        out.push(arrow(cx, y + GAP + part.h, x + w / 2, y + height - 2, cls));
        left += part.w + SIDE;
      }
      return h("svg:g", null, out);
    },
  };
}

/** A construct (steps, parallel, condition, loop, router): a titled frame around its body. */
function group(step) {
  const kind = String(step.kind || "steps");
  const side = kind === "parallel" || kind === "router";
  const body = side ? branches(step.steps, kind === "router" ? "wf-arrow wf-choice" : "wf-arrow") : sequence(step.steps);
  const loop = kind === "loop";
  let title = GROUP_TITLES[kind] || kind;
  if (step.name) title = `${title} · ${step.name}`;
  if (loop && step.max_iterations) title = `${title} · at most ${step.max_iterations}×`;
  const back = loop ? 28 : 0; // room on the right for the loop's way back
  const w = Math.max(body.w + 2 * PAD + back, textWidth(title) + 2 * PAD);
  const height = body.h + 2 * PAD + LABEL_H;
  return {
    w, h: height,
    draw(x, y) {
      const bodyX = x + (w - back - body.w) / 2;
      const bodyY = y + LABEL_H + PAD;
      const out = [
        h("svg:title", null, [title, step.description].filter(Boolean).join(" — ")),
        h("svg:rect", { class: ["wf-group", `wf-group-${kind.replace(/[^a-z]/gi, "")}`], x, y, width: w, height, rx: 10 }),
        h("svg:text", { x: x + 10, y: y + 16, class: "wf-group-title" }, clip(title)),
        body.draw(bodyX, bodyY),
      ];
      if (loop) {
        const right = x + w - back / 2 - 4;
        const bottom = bodyY + body.h - 6;
        const top = bodyY + 6;
        const mid = bodyX + body.w;
        out.push(h("svg:path", {
          class: "wf-arrow wf-loop",
          d: `M ${mid} ${bottom} H ${right} V ${top} H ${mid + 2}`,
          "marker-end": "url(#wf-head)",
        }));
      }
      return h("svg:g", { class: "wf-construct" }, out);
    },
  };
}

function layout(step) {
  return step.steps && step.steps.length ? group(step) : leaf(step);
}

/** A small rounded "start"/"end" marker. */
function terminal(text) {
  return {
    w: 70, h: 26,
    draw: (x, y) => h("svg:g", { class: "wf-terminal" },
      h("svg:rect", { class: "wf-pill", x, y, width: 70, height: 26, rx: 13 }),
      label(x + 35, y + 17, text, "wf-detail")),
  };
}

/** The whole diagram of `steps` as an <svg> element. */
export function diagram(name, steps) {
  const margin = 16;
  const whole = stack([terminal("start"), ...steps.map(layout), terminal("end")]);
  const names = [];
  const walk = (list) => list.forEach((s) => { if (s.name) names.push(s.name); walk(s.steps || []); });
  walk(steps);
  const W = whole.w + 2 * margin;
  const H = whole.h + 2 * margin;
  return h("svg:svg", {
    class: "wf-diagram", role: "img", viewBox: `0 0 ${W} ${H}`, width: W, height: H,
    "aria-label": `Workflow ${name}: ${names.join(", then ") || "no steps"}`,
  },
  h("svg:defs", null,
    h("svg:marker", { id: "wf-head", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      h("svg:path", { d: "M 0 0 L 10 5 L 0 10 z", class: "wf-head" }))),
  whole.draw(margin, margin));
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast("Mermaid text copied.");
  } catch {
    toast("The browser refused the clipboard: select the text and copy it.", "error");
  }
}

export default async function render({ root, params, api, signal, setTitle }) {
  const id = params.id;
  setTitle(`Workflow ${id}`);
  append(root, spinner());
  let workflow;
  try {
    workflow = await api.get(`/v1/workflows/${encodeURIComponent(id)}`, null, signal);
  } catch (error) {
    if (error.name === "AbortError") return;
    root.replaceChildren(header(`Workflow ${id}`), errorBox(error));
    return;
  }
  const steps = workflow.steps || [];
  const runIt = link(`chat/workflow/${encodeURIComponent(workflow.workflow_id)}`, "Run it");
  runIt.className = "btn primary wf-run";
  root.replaceChildren(
    header(`Workflow ${workflow.name}`, {
      subtitle: workflow.description || `${steps.length} step${steps.length === 1 ? "" : "s"}, drawn top to bottom.`,
      actions: [runIt],
    }),
    h("figure", { class: "card wf-figure" },
      h("div", { class: "wf-scroll" }, diagram(workflow.name, steps)),
      h("figcaption", { class: "muted" }, "Boxes are steps (with what they run); frames group parallel branches, conditions, loops and routers.")),
    workflow.mermaid
      ? h("details", { class: "card wf-mermaid" },
        h("summary", null, "Mermaid"),
        h("div", { class: "actions" }, button("Copy the Mermaid text", () => copy(workflow.mermaid), { kind: "ghost" })),
        h("pre", { class: "json", "aria-label": "Mermaid text" }, workflow.mermaid))
      : null);
}
