"""A new request's side of matching, folded into the submit statement
(app/requests/submit_statement.py) so that submit keeps its one round trip: its identifiers,
normalized, into request_identifiers, and each stored object carrying one of them into
request_matches.

The identifiers travel as two parallel arrays (kinds, values), normalized and each pair once
(the table's key): ``Example.ORG`` and ``example.org`` are one identifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    ARRAY,
    CTE,
    ColumnElement,
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import IndicatorValue, RequestIdentifier, RequestMatch, table_of
from app.models.enums import CollectionKind, IdentifierKind
from app.sharing.visibility import collections, member_reads, objects
from app.stix.identifiers import normalize

_identifiers = table_of(RequestIdentifier)
_matches = table_of(RequestMatch)
_indicators = table_of(IndicatorValue)


def parameters(identifiers: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The submit statement's ``identifier_kinds`` and ``identifier_values``: each identifier
    of the request (as content_of() holds them) normalized, each once, in the order given."""
    pairs: dict[tuple[str, str], None] = {}
    for identifier in identifiers:
        kind = IdentifierKind(identifier["kind"])
        value = normalize(kind, identifier["value"])
        # None: a form the request schema let through but matching cannot compare; the
        # request keeps it as written and it matches nothing.
        if value is not None:
            pairs[(kind.value, value)] = None
    return {
        "identifier_kinds": [kind for kind, _ in pairs],
        "identifier_values": [value for _, value in pairs],
    }


def _given() -> Any:
    """The identifiers bound as two parallel arrays, as a relation (kind, value)."""
    return (
        func.unnest(
            bindparam("identifier_kinds", type_=ARRAY(String)),
            bindparam("identifier_values", type_=ARRAY(String)),
        )
        .table_valued("kind", "value")
        .render_derived(name="given")
    )


def _carrying(left: Any, given: Any) -> Any:
    """``left`` (holding ``given``) joined with the stored objects carrying its identifiers:
    one probe of indicator_values' key (kind, value, object_row_id) per identifier."""
    i = _indicators.c
    return (
        left.join(_indicators, and_(i.kind == given.c.kind, i.value == given.c.value))
        .join(objects, objects.c.row_id == i.object_row_id)
        .join(collections, collections.c.id == objects.c.collection_id)
    )


def _stored() -> ColumnElement[bool]:
    """Objects of the store: not purged, not in quarantine."""
    return and_(objects.c.purged_at.is_(None), collections.c.kind != CollectionKind.INBOX)


def _lookup_statement() -> Any:
    given = _given()
    i = _indicators.c
    return (
        select(i.kind, i.value, i.object_row_id)
        .select_from(_carrying(given, given))
        .where(_stored())
        .order_by(i.kind, i.value, i.object_row_id)
    )


LOOKUP = _lookup_statement()


async def lookup(
    session: AsyncSession, identifiers: Iterable[Mapping[str, Any]]
) -> list[tuple[str, str, int]]:
    """The stored objects carrying any of ``identifiers`` (kind, normalized value, row id),
    whoever may read them: the probe the submit statement makes, on its own (what
    bench/matching.py times). No reader's rules: not for showing."""
    rows = await session.execute(LOOKUP, parameters(identifiers))
    return [(row.kind, row.value, row.object_row_id) for row in rows]


def ctes(written: CTE) -> tuple[CTE, CTE]:
    """The statement's two CTEs over ``written`` (the request's INSERT ... RETURNING, with id,
    requesting_agency_id and requesting_country): the identifiers kept, and the
    matches found, RETURNING whether the requester may read each object (``visible``)."""
    given = _given()
    kept = (
        insert(_identifiers)
        .from_select(
            ["kind", "value", "request_id"],
            select(given.c.kind, given.c.value, written.c.id).select_from(
                written.join(given, true())
            ),
        )
        .cte("identified")
    )
    i = _indicators.c
    visible: ColumnElement[bool] = member_reads(
        written.c.requesting_agency_id, written.c.requesting_country
    )
    found = (
        pg_insert(_matches)
        .from_select(
            ["request_id", "object_row_id", "kind", "value", "notified_at"],
            select(
                written.c.id,
                i.object_row_id,
                i.kind,
                i.value,
                # Told in the submit's own answer and event: notified now, if it may see it.
                case((visible, func.now())),
            )
            .select_from(_carrying(written.join(given, true()), given))
            .where(_stored()),
        )
        # One object may carry two of the request's identifiers: one match, the first.
        .on_conflict_do_nothing()
        .returning(_matches.c.notified_at)
        .cte("matched")
    )
    return kept, found


def visible_count(found: CTE) -> Any:
    """How many of the matches found the requester may see: the submit's event says so."""
    return (
        select(func.count())
        .select_from(found)
        .where(found.c.notified_at.is_not(None))
        .scalar_subquery()
    )
