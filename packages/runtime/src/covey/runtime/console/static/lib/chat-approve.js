// A paused run's requirements as a form inside its turn: each approval (tool name, arguments,
// Approve / Reject with an optional note), each input request (a field per input), each
// external result (a JSON box). Once every requirement has an answer, `submit(decisions)` is
// called with the body of `POST /v1/runs/{id}/resume` (without `stream`).
import { h } from "./dom.js";
import { button, field } from "./ui.js";

function parseJson(text) {
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { value: text };
  }
}

export function requirementsForm(requirements, submit) {
  const answers = new Map(); // tool_call_id -> {kind, value}
  const sections = [];
  const status = h("p", { class: "chat-req-status muted", role: "status" });
  const box = h("section", { class: "chat-requirements", "aria-label": "Waiting for you" },
    h("h2", null, requirements.length === 1 ? "The run waits for you" : `The run waits for you (${requirements.length})`));

  const done = () => {
    if (answers.size < requirements.length) {
      status.textContent = `${answers.size} of ${requirements.length} answered.`;
      return;
    }
    const body = { approvals: {}, inputs: {}, results: {} };
    for (const [id, answer] of answers) body[answer.kind][id] = answer.value;
    for (const control of box.querySelectorAll("button, input, textarea")) control.disabled = true;
    status.textContent = "Sent; the run goes on.";
    submit(body);
  };

  for (const r of requirements) {
    const id = r.tool_call_id;
    const who = r.run_id ? " (a member's call)" : "";
    let controls;
    if (r.kind === "approval") {
      const note = h("input", { type: "text", name: `note-${id}`, maxlength: 10000, autocomplete: "off" });
      const decide = (approved) => {
        answers.set(id, { kind: "approvals", value: note.value.trim() ? { approved, note: note.value.trim() } : { approved, note: null } });
        verdict.textContent = approved ? "Approved." : "Rejected.";
        for (const b of [approve, reject]) b.disabled = true;
        note.disabled = true;
        done();
      };
      const verdict = h("span", { class: "chat-req-verdict", role: "status" });
      const approve = button("Approve", () => decide(true), { kind: "primary", "aria-label": `Approve ${r.tool_name}` });
      const reject = button("Reject", () => decide(false), { "aria-label": `Reject ${r.tool_name}` });
      controls = [field(`Note for ${r.tool_name} (optional)`, note), h("div", { class: "actions" }, approve, reject, verdict)];
    } else if (r.kind === "input") {
      const names = r.input_fields.length ? r.input_fields : ["value"];
      const inputs = names.map((name) => h("input", { type: "text", name, required: true, autocomplete: "off" }));
      const form = h("form", {
        class: "chat-req-inputs",
        onsubmit: (e) => {
          e.preventDefault();
          answers.set(id, { kind: "inputs", value: Object.fromEntries(names.map((n, i) => [n, inputs[i].value])) });
          done();
        },
      }, names.map((name, i) => field(name, inputs[i])), button("Send", null, { kind: "primary", type: "submit" }));
      controls = [form];
    } else {
      const result = h("textarea", { rows: 3, class: "mono", required: true });
      const form = h("form", {
        onsubmit: (e) => {
          e.preventDefault();
          answers.set(id, { kind: "results", value: parseJson(result.value).value });
          done();
        },
      }, field(`Result of ${r.tool_name} (JSON or text)`, result), button("Send result", null, { kind: "primary", type: "submit" }));
      controls = [form];
    }
    sections.push(h("div", { class: "chat-req" },
      h("p", null,
        h("strong", null, r.kind === "approval" ? "Approve " : r.kind === "input" ? "Input for " : "Result for "),
        h("span", { class: "mono" }, r.tool_name), who),
      r.description ? h("p", { class: "muted" }, r.description) : null,
      Object.keys(r.args || {}).length ? h("pre", { class: "json", "aria-label": `Arguments of ${r.tool_name}` }, JSON.stringify(r.args, null, 2)) : null,
      controls));
  }
  box.append(...sections, status);
  return box;
}
