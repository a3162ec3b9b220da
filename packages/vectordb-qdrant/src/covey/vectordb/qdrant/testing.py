"""`FakeQdrantServer`: Qdrant's REST API on loopback, answered by qdrant-client's local mode.

For tests, docs and benchmarks that need a Qdrant *server* where none can run: a real
`QdrantVectorStore("http://...")` talks real HTTP to it, so requests and answers go through
qdrant-client's REST models both ways, and search itself is local mode's. It serves the
endpoints `QdrantVectorStore` uses (collections, points, query, scroll, count, delete), checks the
`api-key` header when given one, and records every request.

Example:
    ```python
    from covey.vectordb.qdrant import QdrantVectorStore
    from covey.vectordb.qdrant.testing import FakeQdrantServer

    with FakeQdrantServer(api_key="secret") as server:
        store = QdrantVectorStore(server.url, api_key="secret")
        ...
    ```
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any, ClassVar, cast
from urllib.parse import parse_qsl, urlsplit

from pydantic import BaseModel

try:
    from covey.testing.http import Exchange, LoopbackServer, RecordedRequest
except ModuleNotFoundError as error:  # the fake server is for tests: covey-testing is an extra
    if error.name is None or not error.name.startswith("covey.testing"):
        raise
    raise ImportError(
        "covey.vectordb.qdrant.testing needs covey-testing: "
        "pip install covey-vectordb-qdrant[testing]"
    ) from error

from qdrant_client import QdrantClient, models

__all__ = ["FakeQdrantServer"]

_ROUTE = re.compile(r"^/collections(?:/(?P<name>[^/]+)(?P<rest>/.*)?)?$")


def _json(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_none=True)
    if isinstance(value, list | tuple):
        return [_json(v) for v in cast("list[Any]", value)]
    return value


class FakeQdrantServer(LoopbackServer[RecordedRequest, None]):
    """A loopback Qdrant REST server backed by an in-memory local-mode client.

    Args:
        api_key: When set, requests without this `api-key` header get a 401.
        version: The version `GET /` reports.
    """

    methods: ClassVar[tuple[str, ...]] = ("GET", "POST", "PUT", "DELETE")

    def __init__(self, *, api_key: str | None = None, version: str = "1.16.0") -> None:
        super().__init__()
        self._api_key = api_key
        self._version = version
        self._local = QdrantClient(location=":memory:")
        self._local_lock = threading.Lock()
        self.indexes: dict[str, dict[str, Any]] = {}
        """Payload indexes asked for: collection -> field -> schema (local mode has none)."""

    def serve(self, exchange: Exchange) -> None:
        """Answer one REST request (runs in a server thread)."""
        request = exchange.request
        self.record(request, take_scripted=False)
        if self._api_key is not None and request.headers.get("api-key") != self._api_key:
            exchange.send(401, b'{"status": {"error": "Unauthorized"}}')
            return
        parts = urlsplit(request.path)
        if parts.path == "/":
            self._ok(exchange, {"title": "qdrant - fake", "version": self._version})
            return
        route = _ROUTE.match(parts.path)
        handler = self._handler(request.method, route) if route else None
        if route is None or handler is None:
            exchange.send(404, b'{"status": {"error": "Not found"}}')
            return
        body: dict[str, Any] = request.json_or_none() or {}
        query = dict(parse_qsl(parts.query))
        try:
            with self._local_lock:
                result = handler(route.group("name") or "", body, query)
        except ValueError as e:
            status = 404 if "not found" in str(e).lower() else 400
            error = json.dumps({"status": {"error": str(e)}}).encode()
            exchange.send(status, error)
            return
        self._ok(exchange, result)

    @staticmethod
    def _ok(exchange: Exchange, result: Any) -> None:
        body = {"result": _json(result), "status": "ok", "time": 0.0}
        exchange.send(200, json.dumps(body).encode())

    def _handler(
        self, method: str, route: re.Match[str]
    ) -> Callable[[str, dict[str, Any], dict[str, str]], Any] | None:
        name, rest = route.group("name"), route.group("rest") or ""
        table: dict[tuple[str, str], Callable[[str, dict[str, Any], dict[str, str]], Any]] = {
            ("GET", ""): self._collections,
            ("GET", "/"): self._collection,
            ("GET", "/exists"): self._exists,
            ("PUT", "/"): self._create,
            ("DELETE", "/"): self._drop,
            ("PUT", "/index"): self._index,
            ("PUT", "/points"): self._upsert,
            ("POST", "/points"): self._retrieve,
            ("POST", "/points/query"): self._query,
            ("POST", "/points/scroll"): self._scroll,
            ("POST", "/points/count"): self._count,
            ("POST", "/points/delete"): self._delete,
        }
        key = (method, "" if name is None else rest or "/")
        return table.get(key)

    # --- endpoints: each parses the body with qdrant-client's REST model ------------------------

    def _collections(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        return self._local.get_collections()

    def _collection(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        return self._local.get_collection(name)

    def _exists(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        return {"exists": self._local.collection_exists(name)}

    def _create(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        spec = models.CreateCollection.model_validate(body)
        if self._local.collection_exists(name):
            raise ValueError(f"Wrong input: Collection `{name}` already exists!")
        return self._local.create_collection(
            name,
            vectors_config=spec.vectors,
            sparse_vectors_config=spec.sparse_vectors,
            metadata=spec.metadata,
        )

    def _drop(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        return self._local.delete_collection(name)

    def _index(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        spec = models.CreateFieldIndex.model_validate(body)
        self._local.get_collection(name)  # 404 for a missing collection
        self.indexes.setdefault(name, {})[spec.field_name] = spec.field_schema
        return models.UpdateResult(operation_id=0, status=models.UpdateStatus.COMPLETED)

    def _upsert(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        points = models.PointsList.model_validate(body)
        return self._local.upsert(name, points=points.points, wait=True)

    def _retrieve(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        spec = models.PointRequest.model_validate(body)
        return self._local.retrieve(
            name,
            ids=spec.ids,
            with_payload=spec.with_payload if spec.with_payload is not None else True,
            with_vectors=spec.with_vector if spec.with_vector is not None else False,
        )

    def _query(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        spec = models.QueryRequest.model_validate(body)
        return self._local.query_points(
            name,
            query=spec.query,
            using=spec.using,
            prefetch=spec.prefetch,
            query_filter=spec.filter,
            limit=spec.limit or 10,
            with_payload=spec.with_payload if spec.with_payload is not None else False,
            with_vectors=spec.with_vector if spec.with_vector is not None else False,
        )

    def _scroll(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        spec = models.ScrollRequest.model_validate(body)
        points, next_offset = self._local.scroll(
            name,
            scroll_filter=spec.filter,
            limit=spec.limit or 10,
            offset=spec.offset,
            with_payload=spec.with_payload if spec.with_payload is not None else True,
            with_vectors=spec.with_vector if spec.with_vector is not None else False,
        )
        return {"points": _json(points), "next_page_offset": next_offset}

    def _count(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        spec = models.CountRequest.model_validate(body)
        return self._local.count(name, count_filter=spec.filter, exact=spec.exact is not False)

    def _delete(self, name: str, body: dict[str, Any], query: dict[str, str]) -> Any:
        selector = models.PointIdsList.model_validate(body)
        return self._local.delete(name, points_selector=selector, wait=True)

    def close(self) -> None:
        """Stop serving and drop every collection."""
        super().close()
        self._local.close()
