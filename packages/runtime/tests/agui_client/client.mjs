// Drives a Covey AG-UI endpoint with the official AG-UI client (@ag-ui/client's HttpAgent) and
// prints what the client made of the stream as one JSON object. The client verifies the stream
// as it reads it (event order, ids, open messages and tool calls) and fails the run otherwise.
//
// node client.mjs '{"url": "...", "headers": {...}, "threadId": "...", "state": {...},
//                   "inputs": ["..."], "decide": {"approved": true}}'
import { HttpAgent } from "@ag-ui/client";

const spec = JSON.parse(process.argv[2]);
const agent = new HttpAgent({
  url: spec.url,
  headers: spec.headers ?? {},
  threadId: spec.threadId,
  initialState: spec.state ?? {},
  initialMessages: [],
});

// `inputs`: user messages, one run each; then, when `decide` is given and the last run ended
// with interrupts, one more run whose resume entries answer each of them with `decide`.
const steps = spec.inputs.map((text) => ({ text }));
if (spec.decide !== undefined) steps.push({ decide: spec.decide });

const runs = [];
let interrupts = [];
for (const [index, step] of steps.entries()) {
  const seen = { events: [], outcome: null, interrupts: null, error: null, runError: null };
  const parameters = { runId: `client-run-${index}` };
  if (step.text !== undefined) {
    agent.addMessage({ id: `user-${index}`, role: "user", content: step.text });
  } else {
    parameters.resume = interrupts.map((interrupt) => ({
      interruptId: interrupt.id,
      status: step.decide === "cancel" ? "cancelled" : "resolved",
      payload: step.decide === "cancel" ? undefined : step.decide,
    }));
  }
  try {
    const result = await agent.runAgent(
      parameters,
      {
        onEvent({ event }) {
          seen.events.push(event.type);
        },
        onRunFinishedEvent(params) {
          seen.outcome = params.outcome;
          seen.interrupts = params.interrupts ?? null;
          interrupts = params.interrupts ?? [];
        },
        onRunErrorEvent({ event }) {
          seen.runError = { message: event.message, code: event.code ?? null };
        },
      },
    );
    seen.result = result.result ?? null;
    seen.newMessages = result.newMessages;
  } catch (error) {
    seen.error = String(error?.message ?? error);
  }
  seen.state = agent.state;
  runs.push(seen);
}
process.stdout.write(JSON.stringify({ runs, messages: agent.messages, state: agent.state }));
