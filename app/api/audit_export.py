"""GET /v1/audit/export: the audit entries an auditor asks for, with what proves them, as one
file to keep and check offline (`relay247 audit verify FILE`; docs/audit-chain.md, "Exports")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from app.api import problems
from app.api.audit import AuditFilters
from app.api.deps import ActorOnly, DatabaseOf
from app.services.audit import export
from app.services.audit.keys import KeyHolder, SigningKeyError, cannot_sign
from app.services.audit.query import authorize
from app.settings import audit_settings, database_settings

router = APIRouter(prefix="/v1/audit", tags=["audit"])

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
    filters: AuditFilters,
    export_format: Annotated[
        export.ExportFormat, Query(alias="format", description="ndjson (default) or csv")
    ] = export.ExportFormat.NDJSON,
) -> StreamingResponse:
    """The sealed entries matching the filters that the caller may see (an auditor: all; a
    national auditor: those concerning its country, 403 for another), in chain order, with a
    link (the digest) for each entry of the segment left out and the signed checkpoints that
    cover it. The export is audited (`audit.exported`) before its first byte. A file cut off
    midway lacks its last line, which the verifier reports."""
    authorize(actor, filters)
    await export.record_export(database, actor, filters, export_format)
    keys: KeyHolder = request.app.state.signing_keys
    try:
        await export.ensure_signed(
            database,
            actor,
            filters,
            keys=keys,
            checkpoint_file=audit_settings().checkpoint_path(database_settings()),
        )
    except SigningKeyError as exc:
        raise cannot_sign("exports", exc) from None
    generated_at = datetime.now(UTC)
    name = f"relay247-audit-{generated_at:%Y%m%dT%H%M%SZ}.{export_format.value}"
    return StreamingResponse(
        export.export_lines(database, actor, filters, export_format, generated_at=generated_at),
        media_type=export.MEDIA_TYPES[export_format],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
