// Approvals: the tool calls paused runs wait on a person for (and, filtered, the decisions
// already taken: the audit). Approve or reject with a note; of two people deciding at once one
// wins and the other is told plainly. Only the public API: /v1/approvals.
import { h, append, replace } from "../lib/dom.js";
import {
  header, button, badge, pager, spinner, errorBox, toast, field, json, time, shortId, link,
  toolbar, emptyState,
} from "../lib/ui.js";
import {
  selectBox, facts,
} from "../lib/runsview.js";

const FILTERS = [["pending", "Pending"], ["approved", "Approved"], ["rejected", "Rejected"]];

export default async function render({ root, api, allows, query, signal, setTitle }) {
  setTitle("Approvals");
  const status = selectBox(FILTERS, { value: query.get("status") || "pending", name: "status", any: null });
  const results = h("div", { class: "rv-approvals" }, spinner());
  const note = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  append(root, [
    header("Approvals", {
      subtitle: "Tool calls waiting for a person, and the decisions taken.",
      actions: [button("Refresh", () => reload(), { kind: "ghost" })],
    }),
    toolbar(field("Show", status)), note, results]);
  status.addEventListener("change", () => reload());
  const canDecide = allows("runs:write");

  function card(a) {
    const body = h("div", { class: "rv-approval-body" });
    const box = h("article", { class: ["card", "rv-approval"], "aria-label": `Approval ${a.tool_name} ${a.approval_id}` },
      h("header", { class: "rv-approval-head" },
        h("h2", null, h("span", { class: "mono" }, a.tool_name), " ", badge(a.status), a.status === "pending" && !a.open ? h("span", { class: "muted" }, " (no longer waited for)") : null),
        time(a.created_at)),
      a.description ? h("p", null, a.description) : null,
      facts([
        ["Run", link(`runs/${encodeURIComponent(a.run_id)}`, shortId(a.run_id))],
        ["Member run", a.member_run_id ? link(`runs/${encodeURIComponent(a.member_run_id)}`, shortId(a.member_run_id)) : null],
        ["Agent", a.agent_id ? `${a.agent_id}${a.kind && a.kind !== "agent" ? ` (${a.kind})` : ""}` : null],
        ["Session", a.session_id ? link(`sessions/${encodeURIComponent(a.session_id)}`, shortId(a.session_id)) : null],
        ["User", a.user_id],
        ["Expires", a.expires_at ? time(a.expires_at) : null],
        ["Decided", a.resolved_at ? h("span", null, time(a.resolved_at), a.resolved_by ? ` by ${a.resolved_by}` : "") : null],
        ["Note", a.note],
      ]),
      h("p", { class: "muted" }, "Arguments"), json(a.args || {}),
      body);
    if (a.status === "pending" && a.open && canDecide) append(body, decideForm(a, box));
    return box;
  }

  function decideForm(a, box) {
    const text = h("textarea", { rows: 2, name: "note", maxlength: 10000 });
    const problem = h("div", { role: "status", "aria-live": "polite" });
    const buttons = [];
    const decide = async (approved) => {
      for (const b of buttons) b.disabled = true;
      try {
        const out = await api.post(`/v1/approvals/${encodeURIComponent(a.approval_id)}`, { approved, note: text.value.trim() || null }, signal);
        toast(`${approved ? "Approved" : "Rejected"} ${a.tool_name}${out.run_status === "running" ? ": the run goes on." : out.waiting_for && out.waiting_for.length ? `: ${out.waiting_for.length} more decision(s) pending for this run.` : "."}`);
        box.replaceWith(card({ ...a, ...out }));
      } catch (error) {
        if (error.name === "AbortError") return;
        if (error.status === 409) {
          replace(problem, errorBox({ problem: { title: "Someone decided first", detail: error.problem.detail || error.message } }));
          try {
            const now = await api.get(`/v1/approvals/${encodeURIComponent(a.approval_id)}`, null, signal);
            const fresh = card(now);
            append(fresh, problem);
            box.replaceWith(fresh);
          } catch { /* the box keeps the message */ }
          return;
        }
        for (const b of buttons) b.disabled = false;
        replace(problem, errorBox(error));
      }
    };
    buttons.push(button("Approve", () => decide(true), { kind: "primary", "aria-label": `Approve ${a.tool_name}` }),
      button("Reject", () => decide(false), { kind: "danger", "aria-label": `Reject ${a.tool_name}` }));
    return h("div", { class: "rv-decide" }, field("Note (kept with the decision; a rejection tells the model)", text), h("div", { class: "actions" }, buttons), problem);
  }

  async function reload() {
    const params = new URLSearchParams({ status: status.value });
    history.replaceState(null, "", `/console/approvals${status.value === "pending" ? "" : `?${params}`}`);
    replace(results, spinner());
    try {
      const page = await api.get("/v1/approvals", { status: status.value, limit: 50 }, signal);
      const more = (cursor) => api.get("/v1/approvals", { status: status.value, limit: 50, cursor }, signal).then((next) => {
        const list = results.querySelector(".rv-approval-list");
        if (list) list.append(...next.items.map(card));
        return next.next_cursor;
      });
      note.textContent = `${page.items.length}${page.next_cursor ? "+" : ""} ${status.value} approval${page.items.length === 1 ? "" : "s"}`;
      replace(results, page.items.length
        ? h("div", { class: "rv-approval-list" }, page.items.map(card))
        : emptyState(status.value === "pending" ? "Nothing is waiting for a decision." : `No ${status.value} approvals.`),
      pager(page.next_cursor, more));
    } catch (error) {
      if (error.name !== "AbortError") replace(results, errorBox(error));
    }
  }
  await reload();
}
