"""Receipts: for each stage a request has passed, the service's signed statement naming the
request, the stage, its time, the stage's audit entry (chain position and hash) and the
request's content hash then, so that the requester can prove what happened when, to anyone
holding the public key, without the service.

A receipt is signed when asked for, with the current key, from the stage's *sealed* audit
entry: what it states is what the chain holds, and a checkpoint at or after its position
covers it. A stage whose entry is not sealed yet (about a second after it commits) is listed
as pending. Ed25519 signatures are deterministic: the same receipt signed twice with one key
differs only by its ``signed_at``.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.chain import utc_timestamp
from app.audit.keys import KeyHolder, SigningKey, SigningKeyError, cannot_sign
from app.audit.schemas import StageReceipt, StageReceiptItem, StageReceiptList
from app.core.canonical import jcs
from app.identity import policy
from app.identity.auth import Actor
from app.requests import access

FORMAT_VERSION = 1
RECEIPT_TYPE = "relay247.audit.receipt"

# The audit actions that mark a stage of a request's life, and the stage each names.
STAGES = {
    "request.submitted": "submitted",
    "request.delivered": "delivered",
    "request.acknowledged": "acknowledged",
    "request.responded": "responded",
    "request.declined": "declined",
    "request.closed": "closed",
    "request.cancelled": "cancelled",
}

_STAGE_ENTRIES = text(
    "SELECT action, occurred_at, chain_position, chain_hash, content_hash, "
    "       (SELECT clock_timestamp()) AS now "
    "FROM audit_entries "
    "WHERE object_type = :object_type AND object_id = :object_id "
    "  AND action = ANY(CAST(:actions AS text[])) "
    "ORDER BY chain_position NULLS LAST, id"
)


async def _signing_key(session: AsyncSession, keys: KeyHolder) -> SigningKey:
    try:
        return await keys.for_signing(session)
    except SigningKeyError as exc:
        raise cannot_sign("receipts", exc) from None


def signed_document(receipt: StageReceipt) -> dict[str, Any]:
    """The members the signature covers: all but the signature."""
    return receipt.model_dump(exclude={"signature"})


def verifies_under(receipt: StageReceipt, public_key: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(receipt.signature, validate=True), jcs(signed_document(receipt))
        )
    except (InvalidSignature, ValueError):
        return False
    return True


async def request_receipts(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID, keys: KeyHolder
) -> StageReceiptList:
    request = await access.find_visible(session, actor, request_id)
    policy.require(actor, policy.Action.READ_RECEIPTS, access.owner_of(request))
    rows = (
        await session.execute(
            _STAGE_ENTRIES,
            {
                "object_type": access.OBJECT_TYPE,
                "object_id": str(request.id),
                "actions": list(STAGES),
            },
        )
    ).all()
    # The key only when there is something to sign: no key file made for a list of pendings.
    key = await _signing_key(session, keys) if any(row.chain_position for row in rows) else None
    items = []
    for row in rows:
        receipt = None
        if row.chain_position is not None and key is not None:
            unsigned = StageReceipt(
                v=FORMAT_VERSION,
                type=RECEIPT_TYPE,
                request_id=str(request.id),
                stage=STAGES[row.action],
                at=utc_timestamp(row.occurred_at),
                position=row.chain_position,
                entry_hash=row.chain_hash,
                content_hash=row.content_hash,
                signed_at=utc_timestamp(row.now),
                key_id=key.key_id,
                signature="",
            )
            signature = key.sign(jcs(signed_document(unsigned)))
            receipt = unsigned.model_copy(
                update={"signature": base64.b64encode(signature).decode()}
            )
        items.append(
            StageReceiptItem(
                stage=STAGES[row.action],
                at=row.occurred_at,
                pending=row.chain_position is None,
                receipt=receipt,
            )
        )
    return StageReceiptList(items=items)
