"""covey-tools-mcp: the tools of MCP servers (stdio, streamable HTTP, SSE) as Covey toolsets.

Importing this package does not import the `mcp` SDK; it is loaded on the first connect.
"""

from covey.tools.mcp._connection import Backoff
from covey.tools.mcp.config import CONFIG_ENV, find_mcp_config, from_reference, load_mcp_config
from covey.tools.mcp.toolset import MCPToolset, RequestHeaders

__all__ = [
    "CONFIG_ENV",
    "Backoff",
    "MCPToolset",
    "RequestHeaders",
    "find_mcp_config",
    "from_reference",
    "load_mcp_config",
]
