"""covey-db-sql: Covey's store in SQLite (default) or PostgreSQL.

```python
from covey.db.sql import SqlStore

store = SqlStore("sqlite:///.covey/covey.db")     # or "postgresql://user:pw@host/db"
```

The schema is created and upgraded on first use (`await store.migrate()` does it explicitly).
`covey.db.sql.testing.PostgresCluster` starts a throwaway PostgreSQL for tests and benchmarks.
"""

from covey.db.sql.engine import EngineOptions
from covey.db.sql.errors import StoreUnavailableError
from covey.db.sql.migrations import LATEST_VERSION
from covey.db.sql.store import DEFAULT_MAX_JSON_BYTES, SqlStore
from covey.db.sql.urls import mask_url

__all__ = [
    "DEFAULT_MAX_JSON_BYTES",
    "LATEST_VERSION",
    "EngineOptions",
    "SqlStore",
    "StoreUnavailableError",
    "mask_url",
]
