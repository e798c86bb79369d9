"""Evidence files: upload (streamed), list, metadata, download (streamed), re-share."""

from __future__ import annotations

import base64
import logging
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from app.api import problems, upload_metadata
from app.api.deps import ActorOnly, CurrentActor, DatabaseOf, Session, SettingsOf
from app.api.stalls import SendBoundResponse
from app.core.observability.metrics import Metrics
from app.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.core.primitives import Text
from app.exchange.file_schemas import (
    FileOut,
    FilePage,
    ShareCreate,
    SharePermissionCreate,
    SharePermissionOut,
)
from app.exchange.files import intake, serving, sharing
from app.exchange.files import service as files
from app.models.enums import HandlingCode, OnwardUse

log = logging.getLogger(__name__)
router = APIRouter(tags=["files"])

# The upload streams its body and limits it itself: app/api/body_limit.py lets it through.
STREAMED_BODY = re.compile(r"/v1/requests/[^/]+/files")

_RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file's bytes, as they are (any Content-Type: it is kept as "
        "`declared_type` and never trusted). At most RELAY247_FILE_MAX_BYTES (50 MiB).",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_BYTES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "Repr-Digest": {
                "schema": {"type": "string"},
                "description": "SHA-256 of the bytes (RFC 9530): `sha-256=:<base64>:`",
            },
            "Content-Disposition": {
                "schema": {"type": "string"},
                "description": "attachment, with the file's name (RFC 6266, RFC 5987)",
            },
        },
    }
}


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for piece in request.stream():
            yield piece
    except ClientDisconnect:
        raise intake.UploadCutOff(
            "the connection closed before the whole body arrived: nothing was stored"
        ) from None


def _declared_length(request: Request) -> int | None:
    # With Transfer-Encoding, any Content-Length is to be ignored (RFC 9112, 6.3).
    if "transfer-encoding" in request.headers:
        return None
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


@router.post(
    "/v1/requests/{request_id}/files",
    status_code=201,
    response_model=FileOut,
    responses=problems.responses(403, 404, 409, 413),
    openapi_extra=_RAW_BODY | upload_metadata.OPENAPI,
)
async def upload_file(
    request_id: uuid.UUID,
    request: Request,
    response: Response,
    database: DatabaseOf,
    actor: ActorOnly,
    settings: SettingsOf,
    name: Annotated[
        Annotated[str, Text(min_length=1, max_length=1024)] | None,
        Query(
            description="The file's name; path parts and control characters are removed. "
            "Better in `Content-Disposition` (a query is written to access logs)"
        ),
    ] = None,
    handling_code: Annotated[
        HandlingCode | None, Query(description="Default: the request's; never looser")
    ] = None,
    onward_use: Annotated[
        list[OnwardUse] | None, Query(description="Default: the request's; never fewer")
    ] = None,
    handling_note: Annotated[
        Annotated[str, Text(min_length=1, max_length=500)] | None,
        Query(description=f"Better in `{upload_metadata.NOTE_HEADER}`"),
    ] = None,
    message_id: Annotated[
        uuid.UUID | None, Query(description="The message of this request it belongs to")
    ] = None,
) -> FileOut:
    """Add a file to the request, the raw bytes as the body. Refused before a byte is read when
    the caller may not (403, 404, 409) or Content-Length is over the limit (413); a body
    without Content-Length is refused (413) as soon as it passes the limit. The type is sniffed
    from the bytes. Both sides are told (`file.added`), without the file's name.

    The name and the H3 note are content: send them in headers, which no access log writes,
    rather than in the query: `Content-Disposition: attachment; filename*=UTF-8''<name,
    percent-encoded>` (RFC 6266, RFC 8187) and `Relay247-Handling-Note: <note,
    percent-encoded UTF-8>`. Each may come in one place only (else 422)."""
    named, noted = upload_metadata.from_headers(request.headers, name=name, note=handling_note)
    spec = files.UploadSpec(
        name=named,
        handling_code=handling_code,
        onward_use=onward_use,
        handling_note=noted,
        message_id=message_id,
        declared_type=request.headers.get("content-type"),
    )
    created = await files.upload(
        database,
        actor,
        request_id,
        spec,
        _body(request),
        declared_length=_declared_length(request),
        max_bytes=settings.exchange.file_max_bytes,
    )
    response.headers["Location"] = f"/v1/files/{created.id}"
    return created


@router.get(
    "/v1/requests/{request_id}/files", response_model=FilePage, responses=problems.responses(404)
)
async def list_files(
    request_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: Annotated[Annotated[str, Text(max_length=512)] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> FilePage:
    """The request's files, oldest first: metadata and hashes for whoever sees the request;
    the name only for who may read the file."""
    return await files.list_files(session, actor, request_id, cursor=cursor, limit=limit)


@router.get("/v1/files/{file_id}", response_model=FileOut, responses=problems.responses(404))
async def get_file(file_id: uuid.UUID, session: Session, actor: CurrentActor) -> FileOut:
    return await files.get_file(session, actor, file_id)


def _disposition(name: str) -> str:
    """attachment, with the name in UTF-8 (RFC 5987) and an ASCII stand-in for old clients."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[^\x20-\x7e]|["\\%]', "_", ascii_name).strip() or "file"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


class _DownloadResponse(SendBoundResponse):
    """A download ends when its client stops taking it (app/api/stalls.py)."""

    def __init__(self, download: files.Download, *, send_timeout: float, metrics: Metrics) -> None:
        meta = download.file
        digest = base64.b64encode(bytes.fromhex(meta.sha256)).decode()
        super().__init__(
            download.chunks,
            send_timeout=send_timeout,
            media_type=serving.served_type(meta.content_type),
            headers={
                **serving.HEADERS,
                "Content-Length": str(meta.size),
                "Repr-Digest": f"sha-256=:{digest}:",
                "Content-Disposition": _disposition(meta.name or "file"),
                "Cache-Control": "no-store",
            },
        )
        self._metrics = metrics

    def stalled(self) -> None:
        # The request id the log line carries finds the file; its name is content.
        log.warning(
            "download stopped: its client made no room for the next chunk in %g s",
            self.send_timeout,
        )
        self._metrics.file_downloads_stalled.inc()


@router.get(
    "/v1/files/{file_id}/content",
    response_class=StreamingResponse,
    responses={**_BYTES, **problems.responses(403, 404, 410)},
)
async def download_file(
    file_id: uuid.UUID,
    request: Request,
    session: Session,
    database: DatabaseOf,
    actor: CurrentActor,
) -> StreamingResponse:
    """The file's bytes, for who may read content of its TLP code (never an auditor); 410 once
    purged. The read is audited, with the file's SHA-256, before the first byte is sent. A type
    a browser could run (HTML, SVG, XML, script...) is sent as `application/octet-stream`,
    and every download carries `Content-Security-Policy: sandbox`: nothing uploaded runs at
    the API's origin. The file's own type is its metadata's `content_type`. A client that
    takes nothing for RELAY247_FILE_SEND_TIMEOUT loses the download (connection reset)."""
    download = await files.download(session, database, actor, file_id)
    return _DownloadResponse(
        download,
        send_timeout=request.app.state.file_send_timeout,
        metrics=request.app.state.metrics,
    )


@router.post(
    "/v1/files/{file_id}/shares",
    status_code=201,
    response_model=FileOut,
    responses=problems.responses(403, 404, 409, 410),
)
async def share_file(
    file_id: uuid.UUID, body: ShareCreate, session: Session, actor: CurrentActor, response: Response
) -> FileOut:
    """Re-share the file into another request you take part in: a new file there, the same
    bytes, handling the stricter of the two. TLP:RED: by the owner agency only. H2: by another
    agency only with the owner's permission for that request (else 403,
    `reason: h2_permission_required`)."""
    shared = await sharing.share(session, actor, file_id, body.request_id)
    response.headers["Location"] = f"/v1/files/{shared.id}"
    return shared


@router.post(
    "/v1/files/{file_id}/share-permissions",
    status_code=201,
    response_model=SharePermissionOut,
    responses={
        200: {"description": "Permitted before: the permission already recorded"},
        **problems.responses(403, 404, 409),
    },
)
async def permit_share(
    file_id: uuid.UUID,
    body: SharePermissionCreate,
    session: Session,
    actor: CurrentActor,
    response: Response,
) -> SharePermissionOut:
    """The owner agency of an H2 file permits it to be re-shared into one request."""
    permitted = await sharing.permit_share(session, actor, file_id, body)
    if not permitted.created:
        response.status_code = 200
    return permitted.permission
