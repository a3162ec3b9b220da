"""covey-tools-shell: programs run for the model from an allow-list, never through a shell.

```python
from covey.tools.shell import ShellToolset

shell = ShellToolset(allow=["ls", ["git", "status"]], cwd=".")
```

Anything not allow-listed pauses the run for a person's approval
(`covey.spec.errors.ApprovalRequired`). See `ShellToolset` and the package README.
"""

from __future__ import annotations

from covey.tools.shell._policy import CODE_RUNNERS, RISKY_OPTIONS, Decision, Policy
from covey.tools.shell._toolset import DEFAULT_ENV_ALLOW, ShellToolset

__all__ = [
    "CODE_RUNNERS",
    "DEFAULT_ENV_ALLOW",
    "RISKY_OPTIONS",
    "Decision",
    "Policy",
    "ShellToolset",
    "from_reference",
]


def from_reference(arg: str | None) -> ShellToolset:
    """The toolset `Agent(tools=["shell"])` gets: nothing allowed, every command needs approval.

    Args:
        arg: The working directory (`"shell:/srv/work"`); the current directory when None.

    Raises:
        ConfigurationError: the directory does not exist.
    """
    return ShellToolset(allow=(), cwd=arg or ".")
