"""Who is on duty when: a country's rotations and overrides resolved into shifts and gaps.

A pure module (no database, no I/O): the callers load a country's zone, rotations, overrides
and disabled principals, and this module applies the rules below. Every datetime it returns
is aware UTC; every instant it takes must be aware (any zone), else ValueError.

A country's desk is staffed in two layers, primary and backup, resolved independently
except that a LEAVE takes its principal off both.

1. Wall-clock cadence. Hand-off k (k >= 0) of a rotation happens at the wall time
   `starts_local + k * length` in the country's zone, where length is 1 day, 7 days or
   `hours` hours of wall time; shift k runs from hand-off k to hand-off k + 1 and goes to
   `participants[k % len(participants)]`. A 08:00 daily hand-off therefore stays at 08:00
   local across DST: the spring-forward day's shift lasts 23 hours, the fall-back day's 25,
   and consecutive shifts share their boundary instant (no gap, no overlap).

2. Wall time to instant (`wall_to_instant`). An ambiguous wall time (fall-back: it occurs
   twice) means its first occurrence (fold=0). A wall time that does not exist (inside the
   spring-forward jump) means the instant the clocks jump: America/New_York 2026-03-08
   02:30 is 07:00Z, i.e. 03:00 EDT. The mapping is monotonic non-decreasing in wall time,
   which is why shifts never overlap; a shift whose two hand-offs map to the same instant
   (a 1-hour shift inside the jump) is empty and dropped, so its participant skips a turn.

3. Which rotation governs. At an instant, among a layer's rotations whose [first
   hand-off, ends_at) contains it, the one whose first hand-off is latest governs (ties:
   the greater id), so a new rotation replaces an old one from its start without the old
   one being edited, and the old one governs again if the new one ends first. Before its
   first hand-off a rotation does not exist; at ends_at it stops, mid-shift or not.

4. Overrides, per layer, at an instant. A COVER of the layer wins over everything: its
   principal is on duty (even one on leave; a disabled one leaves a gap). Otherwise the
   governing rotation's participant is on duty, unless a SWAP of the layer involving that
   participant is in force: then the swap's other principal serves instead (each serves
   the other's scheduled time). Then if the person so found has a LEAVE in force, or is
   among the `unavailable` (disabled) principals, nobody is on duty: a gap. Where several
   covers of a layer overlap, the one that starts latest wins (ties: the greater id);
   likewise for swaps involving the scheduled participant. The write path refuses such
   overlaps anyway.

5. `shifts(start, end)`: the resolved shifts of both layers clipped to [start, end),
   primary before backup, each by start. A shift is cut where its source changes (a
   hand-off, an override starting or ending); adjacent pieces with the same principal and
   the same source (rotation, cover or swap, with its id) are one shift. So a cover in the
   middle of a rotation shift splits it into before/cover/after, a leave of someone else
   does not split it, and consecutive turns of the same person in one rotation (a rotation
   of one participant, or one listed twice in a row) make one shift.

6. `gaps(start, end)`: the maximal periods within [start, end) where a layer has nobody on
   duty, in the same order as shifts. Per layer, shifts and gaps tile the window exactly.

7. `on_duty(at)`: per layer, the shift containing `at` (starts_at <= at < ends_at) with its
   full extent, not clipped to any window: a 7-day rotation shift runs from its real
   hand-off to the next, a long cover has its own bounds (cut only where that source stops
   applying). The search looks at most `ON_DUTY_REACH` either side of `at` and clips there.

Cost: resolving a window converts about one hand-off per change of participant within it,
found from the window's start (an old rotation's history is not walked), and none where a
cover is in force. Rotation and Override check their own fields (ValueError) when built.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from app.models.enums import Cadence, Layer, OverrideKind

MAX_SHIFT_HOURS = 168
# How far on_duty looks either side of its instant before it settles for a clipped shift.
ON_DUTY_REACH = timedelta(days=400)
# The first window on_duty resolves: wider than a weekly shift, so widening is the exception.
_ON_DUTY_FIRST_REACH = timedelta(days=8)
_ON_DUTY_WIDENING = 4

SOURCE_ROTATION = "rotation"


def _is_aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


def _require_aware(value: datetime, name: str) -> None:
    if not _is_aware(value):
        raise ValueError(f"{name} must be an aware datetime, got the naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class Rotation:
    id: uuid.UUID
    layer: Layer
    participants: tuple[uuid.UUID, ...]
    starts_local: datetime
    cadence: Cadence
    hours: int | None
    ends_at: datetime | None

    def __post_init__(self) -> None:
        if not self.participants:
            raise ValueError("a rotation needs at least one participant")
        if _is_aware(self.starts_local):
            raise ValueError(
                "starts_local is a wall-clock time in the country's zone and must be naive, "
                f"got {self.starts_local.isoformat()}"
            )
        if self.cadence is Cadence.HOURS:
            if self.hours is None or not 1 <= self.hours <= MAX_SHIFT_HOURS:
                raise ValueError(f"an HOURS rotation needs hours in 1..{MAX_SHIFT_HOURS}")
        elif self.hours is not None:
            raise ValueError(f"hours is only for HOURS rotations, not {self.cadence.value}")
        if self.ends_at is not None:
            _require_aware(self.ends_at, "ends_at")


@dataclass(frozen=True, slots=True)
class Override:
    id: uuid.UUID
    kind: OverrideKind
    layer: Layer | None
    principal_id: uuid.UUID
    other_principal_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.kind is OverrideKind.LEAVE:
            if self.layer is not None:
                raise ValueError("a leave takes its principal off both layers: layer must be None")
        elif self.layer is None:
            raise ValueError(f"a {self.kind.value} needs a layer")
        if self.kind is OverrideKind.SWAP:
            if self.other_principal_id is None or self.other_principal_id == self.principal_id:
                raise ValueError("a swap needs two different principals")
        elif self.other_principal_id is not None:
            raise ValueError(f"other_principal_id is only for swaps, not a {self.kind.value}")
        _require_aware(self.starts_at, "starts_at")
        _require_aware(self.ends_at, "ends_at")
        if self.ends_at.astimezone(UTC) <= self.starts_at.astimezone(UTC):
            raise ValueError("an override must end after it starts")


@dataclass(frozen=True, slots=True)
class Shift:
    layer: Layer
    principal_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    source: str
    source_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Gap:
    layer: Layer
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class OnDuty:
    primary: Shift | None
    backup: Shift | None


def wall_to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall-clock time in `zone`, by the DST rule (rule 2)."""
    if _is_aware(wall):
        raise ValueError(f"a wall-clock time must be naive, got {wall.isoformat()}")
    # PEP 495: fold=0 reads the wall time with the offset in force before a transition,
    # fold=1 with the one after. For an ambiguous time fold=0 is the earlier instant; in a
    # spring-forward jump the order flips, and the jump lies between the two readings.
    before_reading = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    after_reading = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if before_reading <= after_reading:
        return before_reading
    # zoneinfo does not expose its transitions: bisect for the first instant with the new offset.
    old_offset_at, new_offset_at = after_reading, before_reading
    old_offset = old_offset_at.astimezone(zone).utcoffset()
    while new_offset_at - old_offset_at > timedelta(microseconds=1):
        middle = old_offset_at + (new_offset_at - old_offset_at) // 2
        if middle.astimezone(zone).utcoffset() == old_offset:
            old_offset_at = middle
        else:
            new_offset_at = middle
    return new_offset_at


def shifts(
    zone: ZoneInfo,
    rotations: Sequence[Rotation],
    overrides: Sequence[Override],
    start: datetime,
    end: datetime,
    *,
    unavailable: frozenset[uuid.UUID] = frozenset(),
) -> list[Shift]:
    """Resolved shifts of both layers within [start, end) (rule 5)."""
    start, end = _window(start, end)
    resolved = _resolve(zone, rotations, overrides, start, end, unavailable)
    return [_as_shift(layer, piece) for layer in Layer for piece in resolved[layer] if piece.duty]


def gaps(
    zone: ZoneInfo,
    rotations: Sequence[Rotation],
    overrides: Sequence[Override],
    start: datetime,
    end: datetime,
    *,
    unavailable: frozenset[uuid.UUID] = frozenset(),
) -> list[Gap]:
    """Periods within [start, end) where a layer has nobody on duty (rule 6)."""
    start, end = _window(start, end)
    resolved = _resolve(zone, rotations, overrides, start, end, unavailable)
    return [
        Gap(layer, piece.starts_at, piece.ends_at)
        for layer in Layer
        for piece in resolved[layer]
        if piece.duty is None
    ]


def on_duty(
    zone: ZoneInfo,
    rotations: Sequence[Rotation],
    overrides: Sequence[Override],
    at: datetime,
    *,
    unavailable: frozenset[uuid.UUID] = frozenset(),
) -> OnDuty:
    """Who is on duty at `at` in each layer, with the full extent of their shift (rule 7)."""
    _require_aware(at, "at")
    at = at.astimezone(UTC)
    # Each side widens on its own: a long cover seen from near its end should not make the
    # window reach far past that end, where every hand-off would be computed for nothing.
    reach_back = reach_ahead = _ON_DUTY_FIRST_REACH
    while True:
        start, end = at - reach_back, at + reach_ahead
        resolved = _resolve(zone, rotations, overrides, start, end, unavailable)
        current = {layer: _piece_containing(resolved[layer], at) for layer in Layer}
        # A shift reaching the window's edge may go on beyond it; a gap needs no extent.
        duties = [p for p in current.values() if p is not None and p.duty is not None]
        cut_at_start = reach_back < ON_DUTY_REACH and any(p.starts_at == start for p in duties)
        cut_at_end = reach_ahead < ON_DUTY_REACH and any(p.ends_at == end for p in duties)
        if not (cut_at_start or cut_at_end):
            break
        if cut_at_start:
            reach_back = min(reach_back * _ON_DUTY_WIDENING, ON_DUTY_REACH)
        if cut_at_end:
            reach_ahead = min(reach_ahead * _ON_DUTY_WIDENING, ON_DUTY_REACH)
    on_duty_by_layer = {
        layer: _as_shift(layer, piece) if piece is not None and piece.duty else None
        for layer, piece in current.items()
    }
    return OnDuty(primary=on_duty_by_layer[Layer.PRIMARY], backup=on_duty_by_layer[Layer.BACKUP])


@dataclass(frozen=True, slots=True)
class _Duty:
    """Who is on duty over a stretch of time, and by virtue of what."""

    principal_id: uuid.UUID
    source: str
    source_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class _Piece:
    """A stretch of one layer's timeline; no duty means a gap."""

    starts_at: datetime
    ends_at: datetime
    duty: _Duty | None


def _window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    _require_aware(start, "start")
    _require_aware(end, "end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end < start:
        raise ValueError("a window must not end before it starts")
    return start, end


def _as_shift(layer: Layer, piece: _Piece) -> Shift:
    assert piece.duty is not None
    return Shift(
        layer=layer,
        principal_id=piece.duty.principal_id,
        starts_at=piece.starts_at,
        ends_at=piece.ends_at,
        source=piece.duty.source,
        source_id=piece.duty.source_id,
    )


def _piece_containing(pieces: list[_Piece], at: datetime) -> _Piece | None:
    return next((piece for piece in pieces if piece.starts_at <= at < piece.ends_at), None)


def _resolve(
    zone: ZoneInfo,
    rotations: Sequence[Rotation],
    overrides: Sequence[Override],
    start: datetime,
    end: datetime,
    unavailable: frozenset[uuid.UUID],
) -> dict[Layer, list[_Piece]]:
    """Each layer's timeline over [start, end) (UTC): pieces tiling it, merged where equal."""
    rotations = [_rotation_in_utc(r) for r in rotations]
    overrides = [_override_in_utc(o) for o in overrides]
    in_window = [o for o in overrides if o.starts_at < end and o.ends_at > start]
    leaves = [o for o in in_window if o.kind is OverrideKind.LEAVE]
    resolved: dict[Layer, list[_Piece]] = {}
    for layer in Layer:
        layer_rotations = [r for r in rotations if r.layer is layer]
        covers = [o for o in in_window if o.kind is OverrideKind.COVER and o.layer is layer]
        resolved[layer] = _resolve_layer(
            scheduled=list(_scheduled(zone, layer_rotations, covers, start, end)),
            covers=covers,
            swaps=[o for o in in_window if o.kind is OverrideKind.SWAP and o.layer is layer],
            leaves=leaves,
            unavailable=unavailable,
            start=start,
            end=end,
        )
    return resolved


# Aware datetimes sharing a tzinfo compare by wall clock (fold ignored), which misorders
# instants around a fall-back; in UTC they compare as instants, and boundaries taken from
# the inputs come out in UTC as promised.
def _rotation_in_utc(rotation: Rotation) -> Rotation:
    if rotation.ends_at is None:
        return rotation
    return dataclasses.replace(rotation, ends_at=rotation.ends_at.astimezone(UTC))


def _override_in_utc(override: Override) -> Override:
    return dataclasses.replace(
        override,
        starts_at=override.starts_at.astimezone(UTC),
        ends_at=override.ends_at.astimezone(UTC),
    )


def _resolve_layer(
    *,
    scheduled: list[_Piece],
    covers: list[Override],
    swaps: list[Override],
    leaves: list[Override],
    unavailable: frozenset[uuid.UUID],
    start: datetime,
    end: datetime,
) -> list[_Piece]:
    # Between two consecutive boundaries nothing changes, so one look at each stretch's start
    # decides the whole stretch.
    boundaries = {start, end}
    boundaries.update(piece.starts_at for piece in scheduled)
    boundaries.update(piece.ends_at for piece in scheduled)
    for override in (*covers, *swaps, *leaves):
        boundaries.update(t for t in (override.starts_at, override.ends_at) if start < t < end)
    pieces: list[_Piece] = []
    scheduled_index = 0
    for stretch_start, stretch_end in pairwise(sorted(boundaries)):
        while (
            scheduled_index < len(scheduled) and scheduled[scheduled_index].ends_at <= stretch_start
        ):
            scheduled_index += 1
        scheduled_duty = None
        if scheduled_index < len(scheduled):
            candidate = scheduled[scheduled_index]
            if candidate.starts_at <= stretch_start:
                scheduled_duty = candidate.duty
        duty = _duty_at(stretch_start, scheduled_duty, covers, swaps, leaves, unavailable)
        if pieces and pieces[-1].duty == duty:
            pieces[-1] = _Piece(pieces[-1].starts_at, stretch_end, duty)
        else:
            pieces.append(_Piece(stretch_start, stretch_end, duty))
    return pieces


def _duty_at(
    at: datetime,
    scheduled: _Duty | None,
    covers: list[Override],
    swaps: list[Override],
    leaves: list[Override],
    unavailable: frozenset[uuid.UUID],
) -> _Duty | None:
    cover = _latest_in_force(covers, at)
    if cover is not None:
        # A cover outranks a leave (it is the later, explicit plan), not a disabled account.
        if cover.principal_id in unavailable:
            return None
        return _Duty(cover.principal_id, OverrideKind.COVER.value, cover.id)
    if scheduled is None:
        return None
    duty = scheduled
    swap = _latest_in_force(
        [s for s in swaps if scheduled.principal_id in (s.principal_id, s.other_principal_id)], at
    )
    if swap is not None:
        assert swap.other_principal_id is not None
        partner = (
            swap.other_principal_id
            if scheduled.principal_id == swap.principal_id
            else swap.principal_id
        )
        duty = _Duty(partner, OverrideKind.SWAP.value, swap.id)
    if duty.principal_id in unavailable:
        return None
    if any(leave.principal_id == duty.principal_id for leave in _all_in_force(leaves, at)):
        return None
    return duty


def _all_in_force(overrides: list[Override], at: datetime) -> Iterator[Override]:
    return (o for o in overrides if o.starts_at <= at < o.ends_at)


def _latest_in_force(overrides: list[Override], at: datetime) -> Override | None:
    return max(_all_in_force(overrides, at), key=lambda o: (o.starts_at, o.id), default=None)


def _scheduled(
    zone: ZoneInfo,
    rotations: list[Rotation],
    covers: list[Override],
    start: datetime,
    end: datetime,
) -> Iterator[_Piece]:
    """The rotations' shifts of one layer over [start, end), before overrides (rules 1, 3).

    Left out where a cover is in force: it wins over everything, and on_duty's look at a
    90-day cover over an hourly rotation would otherwise compute two thousand hand-offs.
    """
    lifetimes = [(wall_to_instant(r.starts_local, zone), r.ends_at, r) for r in rotations]
    lifetimes = [(first, stop, r) for first, stop, r in lifetimes if stop is None or first < stop]
    # Which rotation governs changes only where one starts or stops.
    boundaries = {start, end}
    for first, stop, _ in lifetimes:
        boundaries.update(t for t in (first, stop) if t is not None and start < t < end)
    governed: list[tuple[datetime, datetime, Rotation]] = []
    for stretch_start, stretch_end in pairwise(sorted(boundaries)):
        alive = [
            (first, r.id, r)
            for first, stop, r in lifetimes
            if first <= stretch_start and (stop is None or stretch_start < stop)
        ]
        if not alive:
            continue
        _, _, governing = max(alive, key=lambda life: (life[0], life[1]))
        if governed and governed[-1][2] is governing and governed[-1][1] == stretch_start:
            governed[-1] = (governed[-1][0], stretch_end, governing)
        else:
            governed.append((stretch_start, stretch_end, governing))
    for governed_start, governed_end, rotation in governed:
        for part_start, part_end in _uncovered(governed_start, governed_end, covers):
            yield from _turns(zone, rotation, part_start, part_end)


def _uncovered(
    start: datetime, end: datetime, covers: list[Override]
) -> Iterator[tuple[datetime, datetime]]:
    """The parts of [start, end) where no cover is in force."""
    uncovered_from = start
    for cover in sorted(covers, key=lambda o: o.starts_at):
        if cover.starts_at > uncovered_from:
            yield uncovered_from, min(cover.starts_at, end)
        uncovered_from = max(uncovered_from, cover.ends_at)
        if uncovered_from >= end:
            return
    yield uncovered_from, end


def _turns(zone: ZoneInfo, rotation: Rotation, start: datetime, end: datetime) -> Iterator[_Piece]:
    """The rotation's shifts clipped to [start, end), which its lifetime must contain.

    Consecutive turns of one participant come out as one piece (rule 5 would merge them
    anyway): a one-person rotation costs nothing however wide the window, which keeps
    on_duty cheap where its shift never ends.
    """
    participants = rotation.participants
    if len(set(participants)) == 1:
        yield _Piece(start, end, _Duty(participants[0], SOURCE_ROTATION, rotation.id))
        return
    turn = _last_hand_off_at_or_before(zone, rotation, start)
    hand_off = _hand_off(zone, rotation, turn)
    while hand_off < end:
        participant = participants[turn % len(participants)]
        next_turn = turn + 1
        while participants[next_turn % len(participants)] == participant:
            next_turn += 1
        next_hand_off = _hand_off(zone, rotation, next_turn)
        piece_start, piece_end = max(hand_off, start), min(next_hand_off, end)
        if piece_start < piece_end:
            yield _Piece(piece_start, piece_end, _Duty(participant, SOURCE_ROTATION, rotation.id))
        turn = next_turn
        hand_off = next_hand_off


def _shift_length(rotation: Rotation) -> timedelta:
    if rotation.cadence is Cadence.DAILY:
        return timedelta(days=1)
    if rotation.cadence is Cadence.WEEKLY:
        return timedelta(days=7)
    assert rotation.hours is not None
    return timedelta(hours=rotation.hours)


def _hand_off(zone: ZoneInfo, rotation: Rotation, turn: int) -> datetime:
    # Naive datetime arithmetic is wall-clock arithmetic: exactly rule 1.
    return wall_to_instant(rotation.starts_local + turn * _shift_length(rotation), zone)


def _last_hand_off_at_or_before(zone: ZoneInfo, rotation: Rotation, instant: datetime) -> int:
    """The latest turn whose hand-off is at or before `instant` (0 if none is)."""
    # Counting turns from 0 would make an old rotation slower every day: start from the turn
    # whose wall time is the last at or before the wall clock at `instant`. That turn is
    # never too late (wall_to_instant is monotonic and reads the wall clock's first
    # occurrence), but in an hour the clocks repeat, later hand-offs may already be past.
    length = _shift_length(rotation)
    wall = instant.astimezone(zone).replace(tzinfo=None)
    turn = max(0, (wall - rotation.starts_local) // length)
    while _hand_off(zone, rotation, turn + 1) <= instant:
        turn += 1
    return turn
