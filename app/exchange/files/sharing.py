"""Re-sharing an evidence file into another request: the H2 rule (an H2 file goes on only
with its owner's recorded permission) and the TLP:RED rule (only its owner re-shares it).
What a file is and who sees it is in service.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import (
    ConflictError,
    ForbiddenError,
    GoneError,
    InvalidInputError,
)
from app.exchange.file_schemas import FileOut, SharePermissionCreate, SharePermissionOut
from app.exchange.files import service, storage
from app.identity import policy
from app.identity.auth import Actor
from app.models import CooperationRequest, EvidenceFile, SharePermission, table_of
from app.models.enums import HandlingCode, OnwardUse
from app.requests import access, handling

_permissions = table_of(SharePermission)


def _stricter(a: HandlingCode, b: HandlingCode) -> HandlingCode:
    return a if handling.stricter_or_equal(a, b) else b


async def share(
    session: AsyncSession, actor: Actor, file_id: uuid.UUID, destination_id: uuid.UUID
) -> FileOut:
    """Re-share a file into another request the actor takes part in: a new file row there,
    pointing at the same bytes. TLP:RED only by the owner agency; H2 by another agency only
    with the owner's recorded permission for that destination."""
    file, source = await service.find_visible(session, actor, file_id)
    service.require_content(actor, file, source)
    destination = await access.find_visible(session, actor, destination_id, lock=True)
    side = access.participant_side(actor, destination, adding="files")
    if destination.id == file.request_id:
        raise InvalidInputError("the file is already in that request", field="request_id")
    foreign = actor.agency_id != file.agency_id
    if foreign and file.handling_code is HandlingCode.RED:
        raise ForbiddenError(
            "a TLP:RED file may be re-shared only by the agency that owns it",
            reason=service.RED_OWNER_ONLY,
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
                reason=service.H2_PERMISSION_REQUIRED,
            )
    # The copy will point at the same bytes: hold their key against a purge, then make sure
    # the original was not purged meanwhile (read again, after the lock).
    assert file.storage_key is not None  # service.require_content: not purged
    await storage.lock_keys(session, [file.storage_key])
    still_stored = await session.scalar(
        select(EvidenceFile.storage_key).where(
            EvidenceFile.id == file.id, EvidenceFile.purged_at.is_(None)
        )
    )
    if still_stored is None:
        raise GoneError(f"file {file.id} was purged at the end of its request's retention")
    onward_use = service.ordered_uses([*file.onward_use, *destination.onward_use])
    note = file.handling_note or destination.handling_note
    copy = await service.insert_file(
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
    await service.record(
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
    return service.view(copy, actor, destination)


@dataclass(frozen=True, slots=True)
class Permission:
    permission: SharePermissionOut
    created: bool  # False: it had been given before, and is answered again


async def permit_share(
    session: AsyncSession, actor: Actor, file_id: uuid.UUID, body: SharePermissionCreate
) -> Permission:
    """The owner agency permits its H2 file to be re-shared into one request. The owner need
    not see that request (it is often between two other countries); it must exist."""
    file, request = await service.find_visible(session, actor, file_id)
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
    await service.record(
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
