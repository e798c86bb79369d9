"""A request's thread: both sides post messages, each with its own handling code, and read
the thread in order, each message's text shown only to who its code reaches."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import audit
from app.core.errors import InvalidInputError
from app.core.pagination import PositionCursor
from app.directory import person_refs
from app.directory.person_refs import PersonRef
from app.exchange.message_schemas import MessageCreate, MessageOut, MessagePage, Withheld
from app.identity import policy
from app.identity.auth import Actor
from app.models import Message, table_of
from app.models.enums import OnwardUse
from app.realtime import event_log
from app.requests import access, handling

OBJECT_TYPE = "message"
_SEQ_MAX = 2**31 - 1  # messages.seq is an INTEGER


# --- where a message is read again ------------------------------------------------------


def location_of(message: MessageOut) -> str:
    """Where the message can be read again: the one-message page of its thread that holds it."""
    cursor = PositionCursor(message.request_id, message.seq - 1).encode()
    return f"/v1/requests/{message.request_id}/messages?cursor={cursor}&limit=1"


# --- views ----------------------------------------------------------------------------------


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _withheld(actor: Actor, message: Message, owner: policy.Owner) -> Withheld | None:
    if message.purged_at is not None or message.text is None:
        return Withheld.PURGED
    if not handling.may_read(actor, message.handling_code, owner):
        return Withheld.HANDLING_CODE
    return None


def _view(message: Message, withheld: Withheld | None, author: PersonRef) -> MessageOut:
    return MessageOut(
        id=message.id,
        request_id=message.request_id,
        seq=message.seq,
        side=message.side,
        author_principal_id=message.author_principal_id,
        author_agency_id=message.author_agency_id,
        author=author,
        created_at=message.created_at,
        handling_code=message.handling_code,
        onward_use=[OnwardUse(code) for code in message.onward_use],
        handling_note=message.handling_note,
        source_reliability=message.source_reliability,
        information_accuracy=message.information_accuracy,
        text_hash=message.text_hash,
        text=message.text if withheld is None else None,
        withheld=withheld,
    )


def event_data(message: Message) -> dict[str, Any]:
    """What a push carries: metadata, never the text. The text is read with an audited GET."""
    return {
        "request_id": str(message.request_id),
        "message_id": str(message.id),
        "seq": message.seq,
        "side": message.side.value,
        "author_principal_id": str(message.author_principal_id),
        "author_agency_id": str(message.author_agency_id),
        "handling_code": message.handling_code.value,
        "onward_use": [str(code) for code in message.onward_use],
        "created_at": message.created_at.isoformat(),
        "source_reliability": (
            message.source_reliability.value if message.source_reliability else None
        ),
        "information_accuracy": message.information_accuracy,
    }


# --- use cases ------------------------------------------------------------------------------

_messages = table_of(Message)


def _next_seq(request_id: uuid.UUID) -> Any:
    # Gap-free because the caller holds the request's row lock: no other post of this request
    # can read the same maximum, and a rolled-back post leaves no hole.
    return (
        select(func.coalesce(func.max(Message.seq), 0) + 1)
        .where(Message.request_id == request_id)
        .scalar_subquery()
    )


async def post(
    session: AsyncSession, actor: Actor, request_id: uuid.UUID, draft: MessageCreate
) -> MessageOut:
    """Add a message to the thread of an open request, on the caller's side of it."""
    request = await access.find_visible(session, actor, request_id, lock=True)
    side = access.participant_side(actor, request, adding="messages")
    rules = handling.item_handling(
        code=draft.handling_code,
        onward_use=draft.onward_use,
        note=draft.handling_note,
        request_code=request.handling_code,
        request_onward_use=request.onward_use,
        request_note=request.handling_note,
    )

    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "request_id": request.id,
        "side": side,
        "author_principal_id": actor.principal_id,
        "author_agency_id": actor.agency_id,
        "text": draft.text,
        "text_hash": text_hash(draft.text),
        "handling_code": rules.code,
        "onward_use": [str(use) for use in rules.onward_use],
        "handling_note": rules.note,
        "source_reliability": draft.source_reliability,
        "information_accuracy": draft.information_accuracy,
    }
    stamps = (
        await session.execute(
            insert(_messages)
            .values(**values, seq=_next_seq(request.id))
            .returning(_messages.c.seq, _messages.c.created_at)
        )
    ).one()
    # The row is written; this transient object (never added to the session) carries its
    # values to the view, the audit entry and the event.
    message = Message(**values, seq=stamps.seq, created_at=stamps.created_at, purged_at=None)

    await audit.record(
        session,
        actor,
        "message.posted",
        object_type=OBJECT_TYPE,
        object_id=str(message.id),
        countries=access.countries_of(request),
        content_hash=message.text_hash,
        details={
            "request_id": str(request.id),
            "seq": message.seq,
            "handling_code": rules.code.value,
        },
    )
    await event_log.publish(
        session,
        "message.posted",
        channels=access.channels_of(request),
        request_id=request.id,
        data=event_data(message),
    )
    authors = await person_refs.describe(session, actor, [message.author_principal_id])
    # The author wrote the text: showing it back is no read of someone else's content.
    return _view(message, None, authors[message.author_principal_id])


async def thread(
    session: AsyncSession,
    actor: Actor,
    request_id: uuid.UUID,
    *,
    cursor: str | None,
    limit: int,
    after_seq: int | None = None,
) -> MessagePage:
    """The thread, oldest first; each text shown only to who its handling code reaches (an
    audited read), else withheld with the reason."""
    request = await access.find_visible(session, actor, request_id)
    if cursor is not None and after_seq is not None:
        raise InvalidInputError("give cursor or after_seq, not both", field="after_seq")
    after = (
        PositionCursor.decode(cursor, request.id, largest=_SEQ_MAX)
        if cursor is not None
        else after_seq or 0
    )
    rows = list(
        await session.scalars(
            select(Message)
            .where(Message.request_id == request.id, Message.seq > after)
            .order_by(Message.seq)
            .limit(limit + 1)
        )
    )
    page, more = rows[:limit], len(rows) > limit
    owner = access.owner_of(request)
    authors = await person_refs.describe(session, actor, {m.author_principal_id for m in page})
    views = [
        _view(message, _withheld(actor, message, owner), authors[message.author_principal_id])
        for message in page
    ]
    countries = access.countries_of(request)
    await audit.record_each(
        session,
        actor,
        "message.read",
        object_type=OBJECT_TYPE,
        entries=[
            audit.Entry(str(view.id), view.text_hash, {"request_id": str(request.id)}, countries)
            for view in views
            if view.withheld is None
        ],
    )
    next_cursor = PositionCursor(request.id, page[-1].seq).encode() if more else None
    return MessagePage(items=views, next_cursor=next_cursor)
