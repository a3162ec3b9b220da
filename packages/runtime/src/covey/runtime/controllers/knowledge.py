"""`/v1/knowledge`: knowledge bases, their documents (upload, list, follow, delete) and search.

Reads need the `knowledge:read` scope, uploads and deletes `knowledge:write`. Every call works
in the caller's scope: a user sees their own documents and those shared with their tenant
(admins: the whole tenant), and never another tenant's. A document a user uploads is theirs;
`shared` (admins only) gives it to the whole tenant.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, cast

from litestar import Controller, Request, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Operation, Reference, RequestBody, Schema
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Stream
from pydantic import ValidationError

from covey.runtime.auth import Principal
from covey.runtime.guards import require_scope
from covey.runtime.json_body import decode_json_body
from covey.runtime.knowledge import KnowledgeService, ServedKnowledge
from covey.runtime.knowledge_dto import (
    ContentOut,
    ContentPage,
    ContentRequest,
    ContentsAccepted,
    HitOut,
    KnowledgeList,
    KnowledgeOut,
    SearchOut,
    SearchRequest,
    check_metadata,
)
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.sse import KEEPALIVE_FRAME, SSE_HEADERS, SSE_MEDIA_TYPE
from covey.runtime.state import RuntimeState
from covey.runtime.uploads import check_filename, sniff_content_type
from covey.spec.store import MAX_PAGE_SIZE, KnowledgeContent, Scope
from covey.spec.vectors import load_filter

__all__ = ["KnowledgeController", "knowledge_controller"]

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, QueryParameter(max_length=4096)]
KbName = Annotated[str, PathParameter(max_length=128)]
ContentId = Annotated[str, PathParameter(max_length=255)]

MULTIPART = "multipart/form-data"


def _service(runtime: RuntimeState) -> KnowledgeService:
    return runtime.knowledge


def _content_out(service: KnowledgeService, kb: ServedKnowledge, c: KnowledgeContent) -> ContentOut:
    return ContentOut.from_dict(kb.name, service.content_dict(c))


def _read_id(content_id: str) -> str:
    if not content_id or any(ord(ch) < 32 or ord(ch) == 127 for ch in content_id):
        raise ApiError(404, "not-found", "No such content")
    return content_id


class KnowledgeController(Controller):
    """List knowledge bases; read, follow and delete their documents; search them.

    Served through `knowledge_controller`, which adds the upload route with its size limit.
    """

    path = "/v1/knowledge"
    tags = ["knowledge"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "knowledge:read"},
        summary="List knowledge bases",
        responses=problem_responses(401, 403),
    )
    async def list_knowledge(self, runtime: NamedDependency[RuntimeState]) -> KnowledgeList:
        """The knowledge bases this server serves."""
        items = [
            KnowledgeOut(
                name=name,
                description=getattr(kb, "description", None),
                contents_url=f"/v1/knowledge/{name}/contents",
                search_url=f"/v1/knowledge/{name}/search",
            )
            for name, kb in sorted(_service(runtime).knowledge.items())
        ]
        return KnowledgeList(items=items)

    @get(
        "/{kb:str}/contents",
        opt={"scope": "knowledge:read"},
        summary="List a knowledge base's documents",
        responses=problem_responses(401, 403, 404),
    )
    async def list_contents(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        kb: KbName,
        status: Annotated[
            str | None,
            QueryParameter(pattern="^(pending|processing|completed|failed)$"),
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> ContentPage:
        """The caller's documents and the tenant's shared ones, most recently updated first."""
        service = _service(runtime)
        base = service.get(kb)
        page = await base.list_contents(
            principal.read_scope,
            status=cast("Any", status),
            limit=limit,
            cursor=cursor,
        )
        return ContentPage(
            items=[_content_out(service, base, c) for c in page.items],
            next_cursor=page.next_cursor,
        )

    @get(
        "/{kb:str}/contents/{content_id:str}",
        opt={"scope": "knowledge:read"},
        summary="Get a document and its ingestion status",
        responses=problem_responses(401, 403, 404),
    )
    async def get_content(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        kb: KbName,
        content_id: ContentId,
    ) -> ContentOut:
        """A document: its status (`pending`, `processing`, `completed`, `failed`) and counts."""
        service = _service(runtime)
        base = service.get(kb)
        content = await base.get_content(_read_id(content_id), principal.read_scope)
        if content is None:
            raise ApiError(404, "not-found", f"No content {content_id!r} in {kb!r}")
        return _content_out(service, base, content)

    @get(
        "/{kb:str}/contents/{content_id:str}/events",
        opt={"scope": "knowledge:read"},
        summary="Follow a document's ingestion (Server-Sent Events)",
        responses={
            200: ResponseSpec(
                None,
                description="`content` events (the document's row, at each status change) and "
                "`progress` events (stage, chunks_total, chunks_done) while it ingests in this "
                "process; the stream ends once the status is `completed` or `failed`.",
                media_type=SSE_MEDIA_TYPE,
            ),
            **problem_responses(401, 403, 404),
        },
    )
    async def follow_content(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        kb: KbName,
        content_id: ContentId,
    ) -> Stream:
        """The document's progress as Server-Sent Events, until it is completed or failed."""
        service = _service(runtime)
        base = service.get(kb)
        scope = principal.read_scope
        content = await base.get_content(_read_id(content_id), scope)
        if content is None:
            raise ApiError(404, "not-found", f"No content {content_id!r} in {kb!r}")
        items = service.follow(base, scope, content, poll_interval=runtime.settings.poll_interval)
        return Stream(_frames(base.name, items), media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)

    @delete(
        "/{kb:str}/contents/{content_id:str}",
        opt={"scope": "knowledge:write"},
        summary="Delete a document and its chunks",
        responses=problem_responses(401, 403, 404),
    )
    async def delete_content(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        kb: KbName,
        content_id: ContentId,
    ) -> None:
        """Delete a document the caller owns (shared ones: admins), with its chunks."""
        service = _service(runtime)
        await service.remove(service.get(kb), principal.read_scope, _read_id(content_id))

    @post(
        "/{kb:str}/search",
        opt={"scope": "knowledge:read"},
        summary="Search a knowledge base",
        status_code=200,
        responses=problem_responses(401, 403, 404, 415),
    )
    async def search(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        kb: KbName,
        data: JSONBody[SearchRequest],
    ) -> SearchOut:
        """The best passages for `query` among the caller's and the tenant's shared documents."""
        service = _service(runtime)
        base = service.get(kb)
        flt = None
        if data.filter is not None:
            try:
                flt = load_filter(data.filter)
            except ValidationError as exc:
                raise ApiError(
                    400,
                    "invalid-filter",
                    "The filter is not in the filter language (ops eq, in, range, and, or, not)",
                    errors=[
                        {
                            "field": "filter." + ".".join(str(p) for p in e["loc"]),
                            "message": e["msg"],
                            "source": "body",
                        }
                        for e in exc.errors(include_input=False)[:20]
                    ],
                ) from None
        hits = await base.search(
            data.query, k=data.k, mode=data.mode, filter=flt, scope=principal.read_scope
        )
        return SearchOut(
            items=[HitOut.from_hit(h, upload=service.is_upload(h.source)) for h in hits]
        )


async def _frames(
    kb: str, items: AsyncIterator[tuple[str, dict[str, Any]] | None]
) -> AsyncIterator[bytes]:
    async for item in items:
        if item is None:
            yield KEEPALIVE_FRAME
            continue
        kind, data = item
        if kind == "content":
            data = ContentOut.from_dict(kb, data).model_dump(mode="json")
        yield b"event: %s\ndata: %s\n\n" % (kind.encode(), json.dumps(data).encode())


# --- uploads ---------------------------------------------------------------------------------------

_MULTIPART_SCHEMA = Schema(
    type=cast("Any", "object"),
    required=["file"],
    properties={
        "file": Schema(
            type=cast("Any", "array"),
            items=Schema(type=cast("Any", "string"), format=cast("Any", "binary")),
            description="One or more documents (.txt .md .csv .json .html .pdf .docx).",
        ),
        "metadata": Schema(
            type=cast("Any", "string"),
            description="A JSON object kept on every document of the upload.",
        ),
        "shared": Schema(
            type=cast("Any", "string"),
            enum=["true", "false"],
            description="Share the documents with the whole tenant (needs 'admin').",
        ),
    },
)


@dataclass
class _UploadOperation(Operation):
    """The upload's request body: a multipart upload, or JSON with a URL or text."""

    request_body: RequestBody | Reference | None = field(default=None)

    def __post_init__(self) -> None:
        self.request_body = RequestBody(
            required=True,
            description="`multipart/form-data` with `file` parts, or JSON with `url` or `text`.",
            content={
                MULTIPART: OpenAPIMediaType(schema=_MULTIPART_SCHEMA),
                "application/json": OpenAPIMediaType(
                    schema=cast("Any", ContentRequest.model_json_schema())
                ),
            },
        )


async def _add_contents(
    self: Controller,
    runtime: NamedDependency[RuntimeState],
    principal: NamedDependency[Principal],
    request: Request[Any, Any, Any],
    kb: KbName,
) -> ContentsAccepted:
    """Take documents and ingest them in the background; answers 202 with their rows.

    Follow each at its `events_url`, or poll it. A file of the same name uploaded again replaces
    the document. Limits: `knowledge_max_upload` bytes per request (413), `knowledge_max_files`
    files (413); types by extension and content (415).
    """
    service = _service(runtime)
    base = service.get(kb)
    if request.content_type[0] == MULTIPART:
        return await _upload(runtime, service, base, principal, request)
    body = decode_json_body(await request.body())
    try:
        data = ContentRequest.model_validate(body)
    except ValidationError as exc:
        raise ApiError(
            400,
            "validation-error",
            "The body is not a valid document request",
            errors=[
                {
                    "field": ".".join(str(p) for p in e["loc"]),
                    "message": e["msg"],
                    "source": "body",
                }
                for e in exc.errors(include_input=False)[:20]
            ],
        ) from None
    scope = _write_scope(principal, data.shared)
    if data.url is not None:
        contents = await service.ingest_url(base, scope, data.url, metadata=data.metadata)
    else:
        name = check_filename(data.name)
        text = cast("str", data.text).encode("utf-8")
        content_type = sniff_content_type(name, text)
        contents = await service.ingest_upload(
            base, scope, name=name, data=text, content_type=content_type, metadata=data.metadata
        )
    return ContentsAccepted(items=[_content_out(service, base, c) for c in contents])


def _write_scope(principal: Principal, shared: bool) -> Scope:
    if principal.user_id is None:
        return Scope(principal.tenant_id)  # no user (auth off): everything is the tenant's
    if shared and not principal.is_admin:
        raise ApiError(403, "forbidden", "Only an admin may share a document with the whole tenant")
    return Scope(principal.tenant_id) if shared else principal.write_scope


async def _upload(
    runtime: RuntimeState,
    service: KnowledgeService,
    kb: ServedKnowledge,
    principal: Principal,
    request: Request[Any, Any, Any],
) -> ContentsAccepted:
    try:
        form = await request.form()
    except ClientException as exc:
        if "Too Large" in str(exc.detail):
            raise ApiError(413, "payload-too-large", "The upload has too many parts") from None
        raise ApiError(400, "bad-request", "The body is not valid multipart/form-data") from None
    try:
        unknown = sorted(k for k in form if k not in ("file", "metadata", "shared"))
        if unknown:
            raise ApiError(
                400,
                "validation-error",
                f"Unknown form field(s) {', '.join(unknown)[:200]}; send file, metadata, shared",
            )
        files = form.getall("file") if "file" in form else []
        if not files or not all(isinstance(f, UploadFile) for f in files):
            raise ApiError(400, "validation-error", "Send the documents as `file` parts")
        limit = runtime.settings.knowledge_max_files
        if len(files) > limit:
            raise ApiError(
                413, "payload-too-large", f"{len(files)} files sent; at most {limit} per upload"
            )
        metadata = _form_metadata(form.getall("metadata") if "metadata" in form else [])
        shared = _form_flag(form.getall("shared") if "shared" in form else [])
        scope = _write_scope(principal, shared)
        checked: list[tuple[str, bytes, str]] = []
        for upload in cast("list[UploadFile]", files):
            name = check_filename(upload.filename)
            data = await upload.read()
            checked.append((name, data, sniff_content_type(name, data)))
        if len({name for name, _, _ in checked}) != len(checked):
            raise ApiError(400, "validation-error", "Two files of the upload share a name")
    finally:
        for value in form.values():
            if isinstance(value, UploadFile):
                await value.close()
    contents: list[KnowledgeContent] = []
    for name, data, content_type in checked:
        contents += await service.ingest_upload(
            kb, scope, name=name, data=data, content_type=content_type, metadata=metadata
        )
    return ContentsAccepted(items=[_content_out(service, kb, c) for c in contents])


def _form_metadata(values: list[Any]) -> dict[str, Any]:
    if not values:
        return {}
    if len(values) > 1 or not isinstance(values[0], str):
        raise ApiError(400, "validation-error", "Send `metadata` once, as a JSON object")
    try:
        return check_metadata(decode_json_body(values[0].encode(), where="metadata field"))
    except ValueError as exc:
        raise ApiError(400, "validation-error", f"metadata: {exc}") from None


def _form_flag(values: list[Any]) -> bool:
    if not values:
        return False
    if len(values) > 1 or values[0] not in ("true", "false"):
        raise ApiError(400, "validation-error", "`shared` must be true or false, once")
    return values[0] == "true"


def knowledge_controller(max_upload: int) -> type[KnowledgeController]:
    """`KnowledgeController` with the upload route, taking bodies up to `max_upload` bytes."""
    add_contents = post(
        "/{kb:str}/contents",
        opt={"scope": "knowledge:write"},
        summary="Add documents (upload files, or a URL or text)",
        status_code=202,
        operation_class=_UploadOperation,
        request_max_body_size=max_upload,
        responses=problem_responses(401, 403, 404, 413, 415),
    )(_add_contents)
    return type("KnowledgeController", (KnowledgeController,), {"add_contents": add_contents})
