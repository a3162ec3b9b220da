// Drives a Covey AG-UI endpoint with the official AG-UI client (@ag-ui/client's HttpAgent) and
// prints what the client made of the stream as one JSON object. The client verifies the stream
// as it reads it (event order, ids, open messages and tool calls) and fails the run otherwise.
//
// node client.mjs '{"url": "...", "headers": {...}, "threadId": "...", "state": {...},
//                   "messages": [...], "runs": 1}'
import { HttpAgent } from "@ag-ui/client";

const spec = JSON.parse(process.argv[2]);
const agent = new HttpAgent({
  url: spec.url,
  headers: spec.headers ?? {},
  threadId: spec.threadId,
  initialState: spec.state ?? {},
  initialMessages: [],
});

const runs = [];
for (const [index, text] of spec.inputs.entries()) {
  const seen = { events: [], outcome: null, interrupts: null, error: null, runError: null };
  agent.addMessage({ id: `user-${index}`, role: "user", content: text });
  try {
    const result = await agent.runAgent(
      { runId: `client-run-${index}` },
      {
        onEvent({ event }) {
          seen.events.push(event.type);
        },
        onRunFinishedEvent(params) {
          seen.outcome = params.outcome;
          seen.interrupts = params.interrupts ?? null;
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
