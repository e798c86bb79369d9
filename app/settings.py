"""Settings, read from the environment (prefix ``RELAY247_``; ``DATABASE_URL`` unprefixed).

One class per subsystem, so each part of the service takes only what it uses.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, IPvAnyNetwork, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PREFIX = "RELAY247_"


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "RELAY247_DATABASE_URL"),
        description="Postgres URL. Unset: an embedded Postgres is started in data_dir.",
    )
    data_dir: Path = Field(
        default=Path(".relay247"),
        description="Folder of the embedded Postgres (used only when DATABASE_URL is unset).",
    )
    pool_size: int = Field(default=10, ge=1, description="Connections kept per process.")
    max_overflow: int = Field(default=10, ge=0, description="Extra connections under load.")
    pool_timeout: float = Field(
        default=3.0,
        gt=0,
        description="Seconds a request waits for a free pooled connection before it is "
        "answered 503 (Retry-After): an exhausted pool sheds load quickly instead of queueing.",
    )

    @field_validator("url")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        return value or None


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    idempotency_key_max_length: int = Field(default=255, ge=16)
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Addresses or networks of the reverse proxies whose X-Forwarded-For and "
        'X-Forwarded-Proto are believed (JSON list, e.g. ["10.0.0.0/8"]). Empty: forwarded '
        "headers are ignored and the peer's own address is the client's.",
    )


class RealtimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    ws_auth_timeout: timedelta = Field(
        default=timedelta(seconds=5),
        description="How long a socket may stay open before it authenticates.",
    )
    ws_queue_size: int = Field(
        default=1000,
        ge=10,
        description="Events buffered for one socket; a client that falls further behind is "
        "closed with code 4000 and resumes from its cursors.",
    )
    ws_ping_interval: timedelta = Field(default=timedelta(seconds=20))
    ws_ping_timeout: timedelta = Field(default=timedelta(seconds=20))
    ws_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed besides the service's own host (JSON list).",
    )
    poll_interval: timedelta = Field(
        default=timedelta(seconds=2),
        description="Safety-net re-read of the event table, in case a wake-up was missed.",
    )
    backfill_batch: int = Field(default=500, ge=1)


@lru_cache
def database_settings() -> DatabaseSettings:
    return DatabaseSettings()


@lru_cache
def api_settings() -> ApiSettings:
    return ApiSettings()


@lru_cache
def realtime_settings() -> RealtimeSettings:
    return RealtimeSettings()
