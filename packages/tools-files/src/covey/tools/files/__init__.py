"""covey-tools-files: read, list and search files inside one root directory; write if enabled.

```python
from covey.tools.files import FileToolset

toolset = FileToolset("docs")  # or Agent(tools=["files"]) for the current directory, read-only
```
"""

from __future__ import annotations

from covey.tools.files._toolset import FileToolset

__all__ = ["FileToolset", "from_reference"]


def from_reference(arg: str | None) -> FileToolset:
    """The toolset a tool reference names: `"files"` is the current directory, `"files:PATH"`
    the directory PATH; read-only either way (pass `FileToolset(..., write=True)` in code to
    write).

    Raises:
        ConfigurationError: the directory does not exist.
    """
    return FileToolset(arg or ".")
