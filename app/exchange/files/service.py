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
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.database import Database
from app.core.errors import (
    BodyTooLargeError,
    ConflictError,
    ForbiddenError,
    GoneError,
    InvalidInputError,
    NotFoundError,
)
from app.core.pagination import Cursor
from app.exchange.file_schemas import FileOut, FilePage, SharePermissionCreate, SharePermissionOut
from app.exchange.files import intake, storage
from app.exchange.files.storage import blob_store
from app.identity import policy
from app.identity.auth import Actor, ensure_still_usable
from app.models import CooperationRequest, EvidenceFile, Message, SharePermission, table_of
from app.models.enums import HandlingCode, OnwardUse, Side
from app.realtime import event_log
from app.requests import access, handling

OBJECT_TYPE = "file"
ADDED = "file.added"
H2_PERMISSION_REQUIRED = "h2_permission_required"
RED_OWNER_ONLY = "red_owner_only"

_files = table_of(EvidenceFile)
_permissions = table_of(SharePermission)


# --- who sees what --------------------------------------------------------------------------


def reads_file(actor: Actor, file: EvidenceFile, request: CooperationRequest) -> bool:
    """Whether the actor may read this file's bytes (and name): by the file's own code, in
    its request; a purged file has none left."""
    return file.purged_at is None and handling.may_read(
        actor, file.handling_code, access.owner_of(request)
    )


async def _find_visible(
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


def _require_content(actor: Actor, file: EvidenceFile, request: CooperationRequest) -> None:
    if not handling.may_read(actor, file.handling_code, access.owner_of(request)):
        raise ForbiddenError(
            f"the file is TLP:{file.handling_code.value}: only "
            f"{handling.READERS[file.handling_code]} read it",
            reason="handling_code",
        )
    if file.purged_at is not None or file.storage_key is None:
        raise GoneError(f"the bytes of file {file.id} were purged at the end of its retention")


def _view(file: EvidenceFile, actor: Actor, request: CooperationRequest) -> FileOut:
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


async def _record(
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


async def _insert(
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


def _ordered(uses: Collection[OnwardUse | str]) -> list[OnwardUse]:
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
        file = await _insert(
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
        await _record(
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
        return _view(file, actor, request)


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
    return FilePage(items=[_view(file, actor, request) for file in page], next_cursor=next_cursor)


async def get_file(session: AsyncSession, actor: Actor, file_id: uuid.UUID) -> FileOut:
    file, request = await _find_visible(session, actor, file_id)
    return _view(file, actor, request)


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
    file, request = await _find_visible(session, actor, file_id)
    _require_content(actor, file, request)
    assert file.storage_key is not None  # _require_content: not purged
    await _record(
        session,
        actor,
        "file.downloaded",
        file,
        access.countries_of(request),
        {"request_id": str(request.id)},
    )
    return Download(_view(file, actor, request), blob_store(database).read(file.storage_key))


# --- re-sharing -----------------------------------------------------------------------------


def _stricter(a: HandlingCode, b: HandlingCode) -> HandlingCode:
    return a if handling.stricter_or_equal(a, b) else b


async def share(
    session: AsyncSession, actor: Actor, file_id: uuid.UUID, destination_id: uuid.UUID
) -> FileOut:
    """Re-share a file into another request the actor takes part in: a new file row there,
    pointing at the same bytes. TLP:RED only by the owner agency; H2 by another agency only
    with the owner's recorded permission for that destination."""
    file, source = await _find_visible(session, actor, file_id)
    _require_content(actor, file, source)
    destination = await access.find_visible(session, actor, destination_id, lock=True)
    side = access.participant_side(actor, destination, adding="files")
    if destination.id == file.request_id:
        raise InvalidInputError("the file is already in that request", field="request_id")
    foreign = actor.agency_id != file.agency_id
    if foreign and file.handling_code is HandlingCode.RED:
        raise ForbiddenError(
            "a TLP:RED file may be re-shared only by the agency that owns it",
            reason=RED_OWNER_ONLY,
        )
    if foreign and OnwardUse.H2 in file.onward_use:
        permitted = await session.scalar(
            select(SharePermission.id).where(
                SharePermission.file_id == file.id, SharePermission.request_id == destination.id
            )
        )
        if permitted is None:
            raise ForbiddenError(
                "the file carries H2 (no onward transfer without permission): its owner "
                "agency must first permit it for this request "
                f"(POST /v1/files/{file.id}/share-permissions)",
                reason=H2_PERMISSION_REQUIRED,
            )
    # The copy will point at the same bytes: hold their key against a purge, then make sure
    # the original was not purged meanwhile (read again, after the lock).
    assert file.storage_key is not None  # _require_content: not purged
    await storage.lock_keys(session, [file.storage_key])
    still_stored = await session.scalar(
        select(EvidenceFile.storage_key).where(
            EvidenceFile.id == file.id, EvidenceFile.purged_at.is_(None)
        )
    )
    if still_stored is None:
        raise GoneError(f"file {file.id} was purged at the end of its request's retention")
    onward_use = _ordered([*file.onward_use, *destination.onward_use])
    note = file.handling_note or destination.handling_note
    copy = await _insert(
        session,
        actor,
        destination,
        {
            "id": uuid.uuid4(),
            "request_id": destination.id,
            "message_id": None,
            "side": side,
            "uploaded_by": actor.principal_id,
            # The owner stays the original's: its word still governs every onward transfer.
            "agency_id": file.agency_id,
            "name": file.name,
            "content_type": file.content_type,
            "declared_type": file.declared_type,
            "size": file.size,
            "sha256": file.sha256,
            "handling_code": _stricter(file.handling_code, destination.handling_code),
            "onward_use": [use.value for use in onward_use],
            "handling_note": note if OnwardUse.H3 in onward_use else None,
            "storage_key": file.storage_key,
            "shared_from": file.id,
        },
    )
    await _record(
        session,
        actor,
        "file.shared",
        copy,
        {
            *access.countries_of(source),
            *access.countries_of(destination),
        },
        {
            "request_id": str(destination.id),
            "from_file": str(file.id),
            "from_request": str(source.id),
            "handling_code": copy.handling_code.value,
        },
    )
    return _view(copy, actor, destination)


@dataclass(frozen=True, slots=True)
class Permission:
    permission: SharePermissionOut
    created: bool  # False: it had been given before, and is answered again


async def permit_share(
    session: AsyncSession, actor: Actor, file_id: uuid.UUID, body: SharePermissionCreate
) -> Permission:
    """The owner agency permits its H2 file to be re-shared into one request. The owner need
    not see that request (it is often between two other countries); it must exist."""
    file, request = await _find_visible(session, actor, file_id)
    policy.require(actor, policy.Action.PERMIT_RESHARE, policy.Owner(agency_id=file.agency_id))
    if OnwardUse.H2 not in file.onward_use:
        raise ConflictError(
            "the file does not carry H2: it may be re-shared without a permission",
            reason="not_h2",
        )
    destination = (
        await session.execute(
            select(CooperationRequest.target_country, CooperationRequest.requesting_country).where(
                CooperationRequest.id == body.request_id
            )
        )
    ).one_or_none()
    if destination is None:
        raise InvalidInputError(f"no request {body.request_id}", field="request_id")
    values = {
        "id": uuid.uuid4(),
        "file_id": file.id,
        "request_id": body.request_id,
        "granted_by": actor.principal_id,
        "agency_id": actor.agency_id,
        "reason": body.reason,
    }
    written = (
        await session.execute(
            upsert(_permissions)
            .values(values)
            .on_conflict_do_nothing(index_elements=["file_id", "request_id"])
            .returning(_permissions.c.created_at)
        )
    ).scalar_one_or_none()
    if written is None:
        existing = await session.scalar(
            select(SharePermission).where(
                SharePermission.file_id == file.id,
                SharePermission.request_id == body.request_id,
            )
        )
        assert existing is not None  # the conflict was with it; permissions are never deleted
        return Permission(SharePermissionOut.model_validate(existing), created=False)
    await _record(
        session,
        actor,
        "file.share_permitted",
        file,
        {*access.countries_of(request), *destination},
        {"request_id": str(body.request_id), "file_request_id": str(file.request_id)},
    )
    return Permission(
        SharePermissionOut.model_validate({**values, "created_at": written}), created=True
    )
