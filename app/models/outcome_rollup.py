from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    Date,
    Index,
    Integer,
    SmallInteger,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.enums import Priority, RequestType, db_enum
from app.models.ownership import OwnerColumns

# The owners of a cell: the same columns as the requests it counts (app/identity/policy.py
# READ_REQUEST), so an aggregate over cells obeys the requests' visibility. The requesting
# agency is part of the key for that reason alone (a unit sees its agency's requests).
_OWNERS = OwnerColumns(
    country="target_country",
    agency="requesting_agency_id",
    sending_country="requesting_country",
)


class _Cell:
    """The key columns every cell has after its period: who sent to whom (the owners above)."""

    owner_columns: ClassVar[OwnerColumns] = _OWNERS

    target_country: Mapped[str] = mapped_column(CHAR(2), primary_key=True)
    requesting_country: Mapped[str] = mapped_column(CHAR(2), primary_key=True)
    requesting_agency_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class _TypeAndPriority:
    """The day grain's finer key: the request's type and priority."""

    type: Mapped[RequestType] = mapped_column(db_enum(RequestType), primary_key=True)
    priority: Mapped[Priority] = mapped_column(db_enum(Priority), primary_key=True)


class _Counts:
    """A cell's counts, the same at every grain."""

    requests: Mapped[int] = mapped_column(Integer, nullable=False)
    escalated: Mapped[int] = mapped_column(Integer, nullable=False)
    overdue: Mapped[int] = mapped_column(Integer, nullable=False)
    clock_met: Mapped[int] = mapped_column(Integer, nullable=False)
    clock_breached: Mapped[int] = mapped_column(Integer, nullable=False)
    # Each share's numerator and denominator: the requests the flag is true for, and those it
    # applies to at all (not NULL).
    ack_within_policy: Mapped[int] = mapped_column(Integer, nullable=False)
    ack_policy_known: Mapped[int] = mapped_column(Integer, nullable=False)
    ack_in_working_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    ack_hours_known: Mapped[int] = mapped_column(Integer, nullable=False)


class _Bucket:
    """One non-empty bucket of one stage's durations in a cell."""

    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, nullable=False)


_STAGES = "stage IN ('deliver', 'acknowledge', 'respond', 'close')"


class RequestOutcomeRollup(Base, _Cell, _TypeAndPriority, _Counts):
    """The counts of one cell of final requests: submitted on one UTC day, from one agency (and
    so one country) to one target country, of one type and priority. Maintained in the
    transaction that writes or deletes each request_outcomes row (app/analytics/rollup.py),
    rebuilt from request_outcomes by ``relay247 analytics rebuild``."""

    __tablename__ = "request_outcome_rollups"
    __table_args__ = (
        Index("ix_request_outcome_rollups_target_day", "target_country", "day"),
        Index("ix_request_outcome_rollups_sending_day", "requesting_country", "day"),
        Index("ix_request_outcome_rollups_agency_day", "requesting_agency_id", "day"),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class RequestOutcomeHistogram(Base, _Cell, _TypeAndPriority, _Bucket):
    """One non-empty bucket of one stage's durations in one cell (the key of
    RequestOutcomeRollup): how many of the cell's requests reached the stage in a time within
    the bucket's bounds (app/analytics/rollup.py). Sparse: a bucket nobody fell in has no
    row, so a cell of four requests holds at most four rows per stage, not a few hundred
    zeros."""

    __tablename__ = "request_outcome_histograms"
    __table_args__ = (
        CheckConstraint(_STAGES, name="stage"),
        Index("ix_request_outcome_histograms_target_day", "target_country", "day"),
        Index("ix_request_outcome_histograms_sending_day", "requesting_country", "day"),
        Index("ix_request_outcome_histograms_agency_day", "requesting_agency_id", "day"),
        # A range of days over every owner (the global desk's): the rows lie in day order
        # (app/analytics/rollup.py), so a block range index finds their pages, a few KB
        # where the primary key's 300 MB made the planner scan the whole table instead.
        Index(
            "ix_request_outcome_histograms_day",
            "day",
            postgresql_using="brin",
            postgresql_with={"autosummarize": "on"},
        ),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)


class RequestOutcomeMonthRollup(Base, _Cell, _Counts):
    """RequestOutcomeRollup's counts, coarser: per UTC month (its first day), requesting
    agency (and country) and target country, any type and priority. Read by the aggregates
    that need no finer grain (app/analytics/aggregates.py)."""

    __tablename__ = "request_outcome_month_rollups"

    month: Mapped[date] = mapped_column(Date, primary_key=True)


class RequestOutcomeMonthHistogram(Base, _Cell, _Bucket):
    """RequestOutcomeHistogram, per cell of RequestOutcomeMonthRollup."""

    __tablename__ = "request_outcome_month_histograms"
    __table_args__ = (CheckConstraint(_STAGES, name="stage"),)

    month: Mapped[date] = mapped_column(Date, primary_key=True)


# What the Prometheus histograms of /metrics count (app/analytics/metrics.py), per stage: the
# requests at or under each fixed bound (1 min to 30 days), those that reached the stage, and
# their durations' sum in whole microseconds (exact: integers add up in any order, so the
# kept sum equals a rebuild's, where a float sum would differ in its last bits).
METRIC_STAGES = ("deliver", "acknowledge", "respond", "close")
METRIC_BOUNDS = (60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400, 259200, 864000, 2592000)


def metric_columns() -> dict[str, str]:
    """Each metric column's name and SQL type (the total grain's cells carry them)."""
    columns: dict[str, str] = {}
    for stage in METRIC_STAGES:
        columns |= {f"{stage}_le_{bound}": "integer" for bound in METRIC_BOUNDS}
        columns |= {f"{stage}_count": "integer", f"{stage}_micros": "bigint"}
    return columns


class _MetricCounts:
    """The metric columns (metric_columns), set on this mixin below: too many to spell out."""


for _name, _kind in metric_columns().items():
    _type = BigInteger if _kind == "bigint" else Integer
    setattr(_MetricCounts, _name, mapped_column(_type, nullable=False))


class RequestOutcomeTotal(Base, _Cell, _TypeAndPriority, _Counts, _MetricCounts):
    """RequestOutcomeRollup's counts over all time: per requesting agency (and country),
    target country, type and priority, any day. Read by the aggregates with no `from`/`to`
    and no period (app/analytics/aggregates.py), and by /metrics, whose columns it also
    carries: a fixed number of cells however long the history."""

    __tablename__ = "request_outcome_totals"


class RequestOutcomeTotalHistogram(Base, _Cell, _TypeAndPriority, _Bucket):
    """RequestOutcomeHistogram, per cell of RequestOutcomeTotal."""

    __tablename__ = "request_outcome_total_histograms"
    __table_args__ = (CheckConstraint(_STAGES, name="stage"),)
