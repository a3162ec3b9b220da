"""AgentOS serving the bench agent, one uvicorn worker on loopback. Runs in Agno's own venv.

Run: `python serve.py PORT OPENAI_BASE_URL [SQLITE_FILE]` (no file: no database).
"""

from __future__ import annotations

import sys

import uvicorn
from agent import make_agent
from agno.os import AgentOS


def main() -> None:
    port, base_url = int(sys.argv[1]), sys.argv[2]
    db = None
    if len(sys.argv) > 3:
        from agno.db.sqlite import SqliteDb

        db = SqliteDb(db_file=sys.argv[3])
    agent_os = AgentOS(agents=[make_agent(base_url, db)], db=db, telemetry=False)
    uvicorn.run(
        agent_os.get_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
