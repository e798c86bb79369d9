"""Evidence files: upload, list, read, download, re-share (with the H2 and TLP:RED rules).

A file belongs to a request: whoever may not see the request does not see its files (404).
Its bytes are read by who may read content of its TLP code (app/requests/handling.py), never
by an auditor; every download is audited, with the file's SHA-256, before a byte is sent.
Names are content (they often name a person): shown only to who may read the bytes, and
never written to the audit trail, to events or to logs.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, AsyncIterator, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.database import Database
from app.core.errors import (
    BodyTooLargeError,
    ForbiddenError,
    GoneError,
    InvalidInputError,
    NotFoundError,
)
from app.core.pagination import Cursor
from app.exchange.file_schemas import FileOut, FilePage
from app.exchange.files import intake
from app.exchange.files.storage import blob_store
from app.identity.auth import Actor, ensure_still_usable
from app.models import CooperationRequest, EvidenceFile, Message, table_of
from app.models.enums import HandlingCode, OnwardUse, Side
from app.realtime import event_log
from app.requests import access, handling

OBJECT_TYPE = "file"
ADDED = "file.added"
H2_PERMISSION_REQUIRED = "h2_permission_required"
RED_OWNER_ONLY = "red_owner_only"

_files = table_of(EvidenceFile)


# --- who sees what --------------------------------------------------------------------------


def reads_file(actor: Actor, file: EvidenceFile, request: CooperationRequest) -> bool:
    """Whether the actor may read this file's bytes (and name): by the file's own code, in
    its request; a purged file has none left."""
    return file.purged_at is None and handling.may_read(
        actor, file.handling_code, access.owner_of(request)
    )


async def find_visible(
    session: AsyncSession, actor: Actor, file_id: uuid.UUID
) -> tuple[EvidenceFile, CooperationRequest]:
    """The file and its request, if the actor may see the request (else 404)."""
    row = (
        await session.execute(
            select(EvidenceFile, CooperationRequest)
            .join(CooperationRequest, CooperationRequest.id == EvidenceFile.request_id)
            .where(EvidenceFile.id == file_id, access.visible_to(actor))
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no file {file_id} that you may see")
    return row[0], row[1]


def require_content(actor: Actor, file: EvidenceFile, request: CooperationRequest) -> None:
    if not handling.may_read(actor, file.handling_code, access.owner_of(request)):
        raise ForbiddenError(
            f"the file is TLP:{file.handling_code.value}: only "
            f"{handling.READERS[file.handling_code]} read it",
            reason="handling_code",
        )
    if file.purged_at is not None or file.storage_key is None:
        raise GoneError(f"the bytes of file {file.id} were purged at the end of its retention")


def view(file: EvidenceFile, actor: Actor, request: CooperationRequest) -> FileOut:
    fields = {name: getattr(file, name) for name in FileOut.model_fields}
    fields["name"] = file.name if reads_file(actor, file, request) else None
    return FileOut.model_validate(fields)


def _event_data(file: EvidenceFile) -> dict[str, Any]:
    """What a push says of a file: metadata, never its name nor its bytes."""
    return {
        "request_id": str(file.request_id),
        "file_id": str(file.id),
        "message_id": str(file.message_id) if file.message_id else None,
        "size": file.size,
        "sha256": file.sha256,
        "content_type": file.content_type,
        "handling_code": file.handling_code.value,
        "side": file.side.value,
        "shared_from": str(file.shared_from) if file.shared_from else None,
    }


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    file: EvidenceFile,
    countries: Iterable[str],
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record(
        session,
        actor,
        action,
        object_type=OBJECT_TYPE,
        object_id=str(file.id),
        countries=countries,
        content_hash=file.sha256,
        details=details,
    )


async def insert_file(
    session: AsyncSession, actor: Actor, request: CooperationRequest, values: dict[str, Any]
) -> EvidenceFile:
    """Write the file row and tell both sides of its request; the view's object is transient
    (never added to the session), as requests.submit does."""
    created_at = (
        await session.execute(insert(_files).values(values).returning(_files.c.created_at))
    ).scalar_one()
    file = EvidenceFile(**values, created_at=created_at, purged_at=None)
    await event_log.publish(
        session,
        ADDED,
        channels=access.channels_of(request),
        request_id=request.id,
        data=_event_data(file),
    )
    return file


# --- upload ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadSpec:
    """What the uploader says of the file, besides its bytes."""

    name: str
    handling_code: HandlingCode | None = None
    onward_use: list[OnwardUse] | None = None
    handling_note: str | None = None
    message_id: uuid.UUID | None = None
    declared_type: str | None = None


@dataclass(frozen=True, slots=True)
class _Admitted:
    """The upload's place in its request, once the actor may add it."""

    side: Side
    code: HandlingCode
    onward_use: list[OnwardUse]
    note: str | None


def ordered_uses(uses: Collection[OnwardUse | str]) -> list[OnwardUse]:
    return sorted({OnwardUse(use) for use in uses})


async def _admit(
    session: AsyncSession, actor: Actor, request: CooperationRequest, spec: UploadSpec
) -> _Admitted:
    """May the actor add this file to this request, as described? Asked before the body is
    read (to refuse at once) and again under the request's lock, when the file is stored."""
    side = access.participant_side(actor, request, adding="files")
    rules = handling.item_handling(
        code=spec.handling_code,
        onward_use=spec.onward_use,
        note=spec.handling_note,
        request_code=request.handling_code,
        request_onward_use=request.onward_use,
        request_note=request.handling_note,
    )
    if spec.message_id is not None:
        found = await session.scalar(
            select(Message.id).where(
                Message.id == spec.message_id, Message.request_id == request.id
            )
        )
        if found is None:
            raise InvalidInputError(
                f"no message {spec.message_id} in request {request.id}", field="message_id"
            )
    return _Admitted(side, rules.code, rules.onward_use, rules.note)


async def upload(
    database: Database,
    actor: Actor,
    request_id: uuid.UUID,
    spec: UploadSpec,
    body: AsyncIterable[bytes],
    *,
    declared_length: int | None,
    max_bytes: int,
) -> FileOut:
    """Take a file in: refuse what can be refused before reading (size, who, where), spool the
    body, then store bytes, row, audit entry and event in one short transaction. No
    connection is held while the body arrives, and an upload cut off leaves nothing.
    ``max_bytes``: RELAY247_FILE_MAX_BYTES."""
    limit = max_bytes
    if declared_length is not None and declared_length > limit:
        raise BodyTooLargeError(
            f"Content-Length {declared_length} is larger than the {limit} bytes a file may "
            "have (RELAY247_FILE_MAX_BYTES): nothing was read"
        )
    name = intake.safe_name(spec.name)
    async with database.transaction() as session:
        request = await access.find_visible(session, actor, request_id)
        await _admit(session, actor, request, spec)

    store = blob_store(database)
    async with (
        intake.spooled(body, max_bytes=limit, name=name) as spool,
        database.transaction() as session,
    ):
        # The bytes first, the lock after: the request is locked for the checks and the
        # row, not for the copy of up to 50 MB.
        key = await store.put(session, spool.chunks())
        # The token may have been revoked while the body arrived: held from here to the
        # commit (app/identity/auth.py), after the copy, so a revocation never waits for it.
        await ensure_still_usable(session, actor)
        request = await access.find_visible(session, actor, request_id, lock=True)
        admitted = await _admit(session, actor, request, spec)
        file = await insert_file(
            session,
            actor,
            request,
            {
                "id": uuid.uuid4(),
                "request_id": request.id,
                "message_id": spec.message_id,
                "side": admitted.side,
                "uploaded_by": actor.principal_id,
                "agency_id": actor.agency_id,
                "name": name,
                "content_type": spool.content_type,
                "declared_type": intake.declared_type(spec.declared_type),
                "size": spool.size,
                "sha256": spool.sha256,
                "handling_code": admitted.code,
                "onward_use": [use.value for use in admitted.onward_use],
                "handling_note": admitted.note,
                "storage_key": key,
                "shared_from": None,
            },
        )
        await record(
            session,
            actor,
            "file.uploaded",
            file,
            access.countries_of(request),
            {
                "request_id": str(request.id),
                "size": file.size,
                "content_type": file.content_type,
                "handling_code": file.handling_code.value,
            },
        )
        return view(file, actor, request)


# --- reading --------------------------------------------------------------------------------


async def list_files(
    session: AsyncSession,
    actor: Actor,
    request_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
) -> FilePage:
    """A request's files, oldest first: metadata and hashes for whoever sees the request."""
    request = await access.find_visible(session, actor, request_id)
    f = EvidenceFile
    query = select(f).where(f.request_id == request.id)
    if cursor is not None:
        after = Cursor.decode(cursor)
        query = query.where(tuple_(f.created_at, f.id) > tuple_(after.created_at, after.id))
    rows = list(await session.scalars(query.order_by(f.created_at, f.id).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    next_cursor = Cursor(page[-1].created_at, page[-1].id).encode() if more else None
    return FilePage(items=[view(file, actor, request) for file in page], next_cursor=next_cursor)


async def get_file(session: AsyncSession, actor: Actor, file_id: uuid.UUID) -> FileOut:
    file, request = await find_visible(session, actor, file_id)
    return view(file, actor, request)


@dataclass(frozen=True, slots=True)
class Download:
    file: FileOut
    chunks: AsyncIterator[bytes]


async def download(
    session: AsyncSession, database: Database, actor: Actor, file_id: uuid.UUID
) -> Download:
    """The file's bytes, for who may read them. The audit entry is written in ``session``,
    which the caller commits before the first byte goes out; the bytes are then read in
    short transactions of the store's own."""
    file, request = await find_visible(session, actor, file_id)
    require_content(actor, file, request)
    assert file.storage_key is not None  # require_content: not purged
    await record(
        session,
        actor,
        "file.downloaded",
        file,
        access.countries_of(request),
        {"request_id": str(request.id)},
    )
    return Download(view(file, actor, request), blob_store(database).read(file.storage_key))
