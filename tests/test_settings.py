"""Settings as an operator writes them in the environment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.core.settings import ApiSettings, RealtimeSettings


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """No database here: this replaces the suite's per-test truncation."""


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("5", timedelta(seconds=5)),
        ("0.25", timedelta(milliseconds=250)),
        ("PT7S", timedelta(seconds=7)),
    ],
)
def test_a_duration_is_seconds_or_iso_8601(
    monkeypatch: pytest.MonkeyPatch, written: str, meant: timedelta
) -> None:
    monkeypatch.setenv("RELAY247_WS_RESUME_WAIT", written)
    monkeypatch.setenv("RELAY247_SHUTDOWN_GRACE", written)
    assert RealtimeSettings().ws_resume_wait == meant
    assert ApiSettings().shutdown_grace == meant


def test_a_duration_that_is_neither_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAY247_WS_RESUME_WAIT", "five seconds")
    with pytest.raises(ValueError, match="ws_resume_wait"):
        RealtimeSettings()
