"""covey-db-memory: Covey's in-process store for `memory://`, bounded, with nothing persisted.

```python
from covey.db.memory import MemoryStore, Retention

store = MemoryStore(Retention(max_runs=1000))  # or resolve_store("memory://?max_runs=1000")
```
"""

from covey.db.memory.retention import Retention
from covey.db.memory.store import MemoryStore

__all__ = ["MemoryStore", "Retention"]
