"""The run engine: one run of a `RunPlan`, driven step by step.

`agent.py` (and, later, teams and workflows) compile a definition into a `RunPlan`
(`run/plan.py`); `RunEngine` (`run/engine.py`) runs plans and never imports the definitions.
Modules: `options` (what a caller gives a run), `state` (what a run accumulates),
`model_step` (one model request: retry, fallback, stream events), `tool_step` (one batch of
tool calls, requirements, resume), `output_step` (output and its validation retries),
`persistence` (events, run record, session, history), `nodes` and `iteration` (`Agent.iter`).

Nothing is imported here, so `covey.core.run.options` stays cheap to import.
"""
