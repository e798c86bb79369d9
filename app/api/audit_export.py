"""GET /v1/audit/export: the audit entries an auditor asks for, with what proves them, as one
file to keep and check offline (`relay247 audit verify FILE`; docs/audit-chain.md, "Exports")."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Mapping
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from app.api import problems
from app.api.audit import AuditFilters
from app.api.deps import ActorOnly, DatabaseOf, SettingsOf
from app.api.stalls import SendBoundResponse
from app.audit import export
from app.audit.keys import KeyHolder, SigningKeyError, cannot_sign
from app.audit.query import authorize
from app.core.errors import UnavailableError
from app.core.observability.metrics import Metrics

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/audit", tags=["audit"])


class ExportLimits:
    """The bounds on this instance's exports (RELAY247_MAX_EXPORTS, RELAY247_EXPORT_SEND_TIMEOUT),
    and the exports running against the first. Kept in ``app.state.export_limits`` (set by
    create_app), so a test can lower them on a running app.

    Each export holds a database connection and a snapshot for as long as it streams, which
    its client decides: without the timeout, a client that stops reading would hold them
    until TCP gives up, hours later; without the limit, a few auditors' exports could take
    the pool that every desk's request needs."""

    def __init__(self, *, max_running: int, send_timeout: float) -> None:
        self.max_running = max_running
        self.send_timeout = send_timeout
        # One event loop per process runs every request: a plain counter is exact.
        self.running = 0

    def take(self) -> None:
        """Raises ExportsBusyError when ``max_running`` exports are streaming already."""
        if self.running >= self.max_running:
            raise ExportsBusyError(
                f"this instance is streaming its limit of {self.max_running} exports; nothing "
                f"was done, retry in {problems.RETRY_AFTER_SECONDS} s"
            )
        self.running += 1

    def release(self) -> None:
        self.running -= 1


class ExportsBusyError(UnavailableError):
    slug = "exports-busy"
    title = "Too many exports"


class _ExportResponse(SendBoundResponse):
    """The export's stream, which ends when its client stops taking it (app/api/stalls.py)
    and gives its slot back however it ends. Stopped, the file lacks its end line, which the
    verifier reports as cut short."""

    def __init__(
        self,
        lines: AsyncGenerator[bytes, None],
        *,
        limits: ExportLimits,
        metrics: Metrics,
        media_type: str,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(
            lines, send_timeout=limits.send_timeout, media_type=media_type, headers=headers
        )
        self._limits = limits
        self._metrics = metrics

    def stalled(self) -> None:
        # No entry, filter or token: the request id the log line carries finds the rest.
        log.warning(
            "export stopped: its client made no room for the next chunk in %g s",
            self.send_timeout,
        )
        self._metrics.audit_exports_stalled.inc()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._limits.release()


_FILE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The export, streamed: NDJSON (one JSON object a line) or CSV",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
        "headers": {
            "Content-Disposition": {
                "schema": {"type": "string"},
                "description": "attachment, with a file name",
            }
        },
    }
}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={**_FILE, **problems.responses(403)},
)
async def export_entries(
    request: Request,
    database: DatabaseOf,
    actor: ActorOnly,
    settings: SettingsOf,
    filters: AuditFilters,
    export_format: Annotated[
        export.ExportFormat, Query(alias="format", description="ndjson (default) or csv")
    ] = export.ExportFormat.NDJSON,
) -> StreamingResponse:
    """The sealed entries matching the filters that the caller may see (an auditor: all; a
    national auditor: those concerning its country, 403 for another), in chain order, with a
    link (the digest) for each entry of the segment left out and the signed checkpoints that
    cover it, under a header the service signs (the filters, the range, the counts). The
    export is audited (`audit.exported`) before its first byte. A file cut off midway lacks
    its last line, which the verifier reports. An instance streams
    RELAY247_MAX_EXPORTS exports at once (503 for one more, before it is audited); a client
    that takes nothing for RELAY247_EXPORT_SEND_TIMEOUT loses its export (connection reset)."""
    filters = authorize(actor, filters)
    limits: ExportLimits = request.app.state.export_limits
    metrics: Metrics = request.app.state.metrics
    try:
        limits.take()
    except ExportsBusyError:
        metrics.http_requests_shed.labels("exports").inc()
        raise
    # From here the slot is the response's to give back, or this function's if it fails first.
    try:
        await export.record_export(database, actor, filters, export_format)
        keys: KeyHolder = request.app.state.signing_keys
        try:
            await export.ensure_signed(
                database,
                actor,
                filters,
                keys=keys,
                checkpoint_file=settings.audit.checkpoint_path(settings.database),
            )
            signer = await export.export_signer(database, keys)
        except SigningKeyError as exc:
            raise cannot_sign("exports", exc) from None
    except BaseException:
        limits.release()
        raise
    signed_at = signer.signed_at.astimezone(UTC)
    name = f"relay247-audit-{signed_at:%Y%m%dT%H%M%SZ}.{export_format.value}"
    return _ExportResponse(
        export.export_lines(database, actor, filters, export_format, signer),
        limits=limits,
        metrics=metrics,
        media_type=export.MEDIA_TYPES[export_format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
