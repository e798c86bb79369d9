"""Settings, read from the environment (prefix ``RELAY247_``; ``DATABASE_URL`` unprefixed).

One class per subsystem, so each part of the service takes only what it uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import limits
from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    IPvAnyNetwork,
    SecretStr,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.models.enums import HandlingCode, RequestType

_PREFIX = "RELAY247_"

_NUMBER = re.compile(r"\s*\d+(\.\d*)?\s*")


def _seconds_if_number(value: object) -> object:
    """An environment variable is text, and pydantic reads text as an ISO 8601 duration only:
    ``RELAY247_WS_RESUME_WAIT=5`` means 5 seconds, as the README says (``PT5S`` works too)."""
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value)
    return value


# A duration setting: seconds as a number, or ISO 8601 (PT5S).
Duration = Annotated[timedelta, BeforeValidator(_seconds_if_number)]


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "RELAY247_DATABASE_URL"),
        description="Postgres URL. Unset: an embedded Postgres is started in data_dir.",
    )
    data_dir: Path = Field(
        default=Path(".relay247"),
        description="Folder of the embedded Postgres (used only when DATABASE_URL is unset), "
        "and the default place of the audit signing key and checkpoint file.",
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
    idempotency_key_lifetime: Duration = Field(
        default=timedelta(hours=24),
        gt=timedelta(0),
        description="How long an Idempotency-Key is honoured after its first use: a retry "
        "within it is answered with the request the first use made; past it the key is new "
        "again, and the purge job deletes it.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Addresses or networks of the reverse proxies whose X-Forwarded-For and "
        'X-Forwarded-Proto are believed (JSON list, e.g. ["10.0.0.0/8"]). Empty: forwarded '
        "headers are ignored and the peer's own address is the client's.",
    )
    body_receive_timeout: Duration = Field(
        default=timedelta(seconds=10),
        gt=timedelta(0),
        description="How long a request body may take to arrive (an upload: each of its chunks, "
        "since a large file takes minutes on a slow link); past it the request is answered 408 "
        "and its connection closed, so a client that stops sending does not keep its slot "
        "of RELAY247_MAX_IN_FLIGHT.",
    )
    header_timeout: Duration = Field(
        default=timedelta(seconds=10),
        gt=timedelta(0),
        description="How long a client may take to send a request's head (its request line "
        "and headers), from the connection's opening or from the first byte of a next "
        "request; past it the connection is closed unanswered, so that connections that send "
        "nothing cannot pile up until the process runs out of file descriptors.",
    )
    keep_alive_timeout: Duration = Field(
        default=timedelta(seconds=10),
        gt=timedelta(0),
        description="How long a connection may stay idle between two requests before the "
        "server closes it. Longer than the 5 s after which common HTTP clients (httpx among "
        "them) stop reusing an idle connection, so that the client gives it up first: a "
        "request sent as the server closes the connection fails, and for a POST the client "
        "cannot retry blindly. Not longer than RELAY247_HEADER_TIMEOUT by default: an idle "
        "connection then costs no more than one that has sent nothing.",
    )
    shutdown_grace: Duration = Field(
        default=timedelta(seconds=10),
        description="On SIGTERM, how long HTTP calls in flight may take to finish; sockets are "
        "closed at once with 1012 (reconnect and resume).",
    )
    token_usage_flush_interval: Duration = Field(
        default=timedelta(seconds=30),
        gt=timedelta(0),
        description="How often each process writes which tokens it saw used (one UPDATE for "
        "all of them), instead of a write on every request: a token's last_used_at is accurate "
        "to this interval.",
    )
    web_session_lifetime: Duration = Field(
        default=timedelta(hours=12),
        gt=timedelta(0),
        description="How long a dashboard sign-in lasts (a night shift), never past the token "
        "it was made with; sign-out ends it at once.",
    )
    refusal_audit_limit: str = Field(
        default="30/minute",
        description="Audit entries a principal's refused attempts on objects (403, 404) may "
        "write, e.g. '30/minute' (syntax of the `limits` library); past it they are counted "
        "and the next entry says how many were left out. Counted per instance, in memory.",
    )

    @field_validator("refusal_audit_limit")
    @classmethod
    def _refusal_limit_parses(cls, value: str) -> str:
        limits.parse(value)  # a typo fails at start, not on the first refusal
        return value


class ExchangeSettings(BaseSettings):
    """The request's life after submission: actions, files, retention."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    file_max_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1,
        description="Largest evidence file accepted; a larger upload is refused with 413 as "
        "soon as its declared length or the bytes read pass it.",
    )
    file_send_timeout: Duration = Field(
        default=timedelta(seconds=10),
        gt=timedelta(0),
        description="A download whose client takes nothing for this long (it stopped reading) "
        "is stopped and its connection reset, giving back its slot of RELAY247_MAX_IN_FLIGHT; "
        "the client has fewer bytes than Content-Length says.",
    )
    reopen_window: Duration = Field(
        default=timedelta(days=30),
        description="How long after it was closed the sender may reopen a request.",
    )
    retention_days: dict[str, int] = Field(
        default_factory=dict,
        description="Days a request's content is kept after it is final, by request type, "
        'over the defaults of app/retention.py (JSON, e.g. {"preservation": 60}).',
    )
    purge_interval: Duration = Field(
        default=timedelta(hours=1),
        gt=timedelta(0),
        description="How often an instance looks for requests whose retention has ended.",
    )
    analytics_metrics_interval: Duration = Field(
        default=timedelta(minutes=5),
        gt=timedelta(0),
        description="How often an instance recounts the response figures of final requests "
        "that /metrics shows as histograms (app/analytics/metrics.py): each count reads the "
        "whole rollup (about a second per million final requests).",
    )
    reports_interval: Duration = Field(
        default=timedelta(minutes=15),
        gt=timedelta(0),
        description="How often an instance looks for weekly and monthly cyber analytical "
        "reports not yet made (app/reports/worker.py); its first look is one interval after "
        "it starts. Each report is made once, by whichever instance gets there first.",
    )
    deadline_poll_interval: Duration = Field(
        default=timedelta(seconds=5),
        gt=timedelta(0),
        le=timedelta(minutes=10),
        description="The deadline worker's safety net: it sleeps until the nearest deadline, "
        "woken when a nearer one is written on any instance, and looks again at least this "
        "often in case a wake-up was lost.",
    )
    four_eyes_expiry: Duration = Field(
        default=timedelta(minutes=30),
        gt=timedelta(0),
        le=timedelta(days=1),
        description="How long an emergency disclosure held for a second officer's approval "
        "(four-eyes) waits: undecided by then, it expires and its sender is told.",
    )
    deadline_concurrency: int = Field(
        default=4,
        ge=1,
        le=32,
        description="Deadlines each instance fires at once, each in a transaction of its own "
        "(a connection each): a burst of deadlines due together is worked off this many at a "
        "time per instance instead of one after the other.",
    )

    @field_validator("retention_days")
    @classmethod
    def _known_types_in_range(cls, value: dict[str, int]) -> dict[str, int]:
        for kind, days in value.items():
            RequestType(kind)  # an unknown type fails at start
            if not 1 <= days <= 36500:
                raise ValueError(f"retention of {kind}: {days} days is not within 1 to 36500")
        return value


class AuditSettings(BaseSettings):
    """The audit trail's hash chain."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    audit_seal_interval: Duration = Field(
        default=timedelta(milliseconds=500),
        gt=timedelta(0),
        le=timedelta(seconds=10),
        description="The sealer seals this instance's entries 0.1 s after they commit, and "
        "looks at least this often for entries written elsewhere (another instance, the "
        "relay247 command): an entry is sealed within about this long after it commits.",
    )
    audit_sealer: bool = Field(
        default=True,
        description="Whether this instance runs the sealer (audit.sealer in /readyz). Off, it "
        "still writes every audit entry and leaves sealing them to the other instances, each of "
        "which finds them on its look every RELAY247_AUDIT_SEAL_INTERVAL (a dedicated sealer "
        "instance, say): at least one instance of the deployment must keep it on, or nothing "
        "is sealed.",
    )
    audit_checkpoint_interval: Duration = Field(
        default=timedelta(seconds=60),
        gt=timedelta(0),
        description="How often one instance signs a checkpoint of the chain's head, when the "
        "head moved since the last one (docs/audit-chain.md).",
    )
    audit_signing_key_file: Path | None = Field(
        default=None,
        description="The Ed25519 private key (PKCS#8 PEM) checkpoints are signed with; made "
        "(mode 0600) on first use if missing. Unset: audit-signing-key.pem in the data folder "
        "(RELAY247_DATA_DIR). Every instance of one deployment needs the same key (a mounted "
        "secret); it never enters the database.",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="Where each checkpoint this process signs is appended, one JSON line each, "
        "outside the database (`relay247 audit verify --checkpoints FILE` checks them). Unset: "
        "audit-checkpoints.ndjson in the data folder (RELAY247_DATA_DIR).",
    )

    export_send_timeout: Duration = Field(
        default=timedelta(seconds=10),
        gt=timedelta(0),
        description="An export whose client takes too little for this long to make room for "
        "the next chunk (500 rows, a few hundred kB: it stopped reading, or reads slower than "
        "a few tens of kB/s at 10 s) is stopped: its snapshot and database connection are "
        "released and its connection reset. The file the client got lacks its end line: the "
        "verifier reports it cut short.",
    )
    max_exports: int = Field(
        default=2,
        ge=1,
        description="Exports streaming at once on this instance, each holding a database "
        "connection and a snapshot until its last byte; one more is refused at once with 503 "
        "and Retry-After, before it is audited.",
    )

    def signing_key_path(self, database: DatabaseSettings) -> Path:
        return self.audit_signing_key_file or database.data_dir / "audit-signing-key.pem"

    def checkpoint_path(self, database: DatabaseSettings) -> Path:
        return self.audit_checkpoint_file or database.data_dir / "audit-checkpoints.ndjson"


class RealtimeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    ws_auth_timeout: Duration = Field(
        default=timedelta(seconds=5),
        description="How long a socket may stay open before it authenticates.",
    )
    ws_send_timeout: Duration = Field(
        default=timedelta(seconds=10),
        description="A socket that accepts no data for this long while events wait for it "
        "(its client stopped reading) is closed with code 4000: reconnect and resume.",
    )
    ws_resume_wait: Duration = Field(
        default=timedelta(seconds=2),
        description="How long after the welcome the server waits for the client's first "
        "frame, `resume`, before it starts live delivery from the welcome's heads.",
    )
    ws_replay_buffer: int = Field(
        default=1024,
        ge=16,
        description="Newest events per channel an instance keeps in memory, shared by all its "
        "sockets; a socket further behind reads from the table.",
    )
    token_check_interval: Duration = Field(
        default=timedelta(seconds=2),
        description="How often open sockets' tokens are checked: a revoked or expired token's "
        "sockets are closed (code 4001) within this.",
    )
    realtime_pool_size: int = Field(
        default=3,
        ge=1,
        description="Database connections of the realtime reads (hub, resumes), apart from "
        "the REST pool so that REST load cannot starve delivery.",
    )
    ws_ping_interval: Duration = Field(default=timedelta(seconds=20))
    ws_ping_timeout: Duration = Field(default=timedelta(seconds=20))
    ws_allowed_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins allowed besides the service's own host (JSON list).",
    )
    poll_interval: Duration = Field(
        default=timedelta(seconds=2),
        description="Safety-net re-read of the event table, in case a wake-up was missed.",
    )
    backfill_batch: int = Field(default=500, ge=1)


class LogSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX + "LOG_", extra="ignore")

    format: Literal["text", "json"] = Field(
        default="text",
        description="text for people at a terminal; json (one object a line, with the request "
        "id as a field) for a log pipeline.",
    )
    level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Level of the service's and uvicorn's loggers."
    )


class OverloadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        description="HTTP requests processed at once; more are refused at once with 503 and "
        "Retry-After. Unset: twice the database pool (pool_size + max_overflow, so 40 by "
        "default). Each request holds a connection for its transaction, so past the pool's "
        "size extra requests only wait for a connection, unseen and for up to 30 s; twice the "
        "pool keeps every connection busy while as many requests again parse, authenticate "
        "or serialize outside a transaction.",
    )
    max_anonymous_in_flight: int | None = Field(
        default=None,
        ge=1,
        description="Of RELAY247_MAX_IN_FLIGHT, how many may serve callers without a working "
        "token or session (the sign-in page and form, the API document; static files take no "
        "slot); more "
        "are refused at once with 503. Unset: a quarter of RELAY247_MAX_IN_FLIGHT (at least "
        "1). The rest is kept for who is signed in.",
    )
    max_anonymous_in_flight_per_peer: int = Field(
        default=6,
        ge=1,
        description="Of those, how many one client address may hold at once (the address as "
        "RELAY247_TRUSTED_PROXIES resolves it), so that one address cannot keep everyone else "
        "from signing in. Six: what a browser opens to a site.",
    )
    max_in_flight_per_principal: int | None = Field(
        default=None,
        ge=1,
        description="Of RELAY247_MAX_IN_FLIGHT, how many one principal may hold at once, "
        "whichever of its tokens or dashboard sessions it calls with; more are refused at once "
        "with 503 and Retry-After, so that one token holder's slow uploads or bodies cannot "
        "shut the others out. Unset: half of RELAY247_MAX_IN_FLIGHT (at least 1).",
    )
    rate_limit: str | None = Field(
        default=None,
        description="Requests a principal may make, e.g. '600/minute' or '20/second;600/minute' "
        "(syntax of the `limits` library); over it, 429 with Retry-After. Unset: no limit. "
        "Counted per instance, in memory.",
    )

    @field_validator("rate_limit")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if not value:
            return None
        limits.parse_many(value)  # a typo fails at start, not on the first request
        return value

    def in_flight_limit(self, database: DatabaseSettings) -> int:
        return self.max_in_flight or 2 * (database.pool_size + database.max_overflow)

    def principal_limit(self, database: DatabaseSettings) -> int:
        return self.max_in_flight_per_principal or max(1, self.in_flight_limit(database) // 2)

    def anonymous_limit(self, database: DatabaseSettings) -> int:
        return self.max_anonymous_in_flight or max(1, self.in_flight_limit(database) // 4)


class OutboxSettings(BaseSettings):
    """Everything that leaves relay247: webhooks to case systems, alerts to people
    (app/outbox/, app/webhooks/, app/alerts/)."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    outbox_sender: bool = Field(
        default=True,
        description="Whether this instance sends the outbox's messages (outbox.sender in "
        "/readyz). Off, it still writes them, for the other instances to send: at least one "
        "instance of the deployment must keep it on.",
    )
    outbox_concurrency: int = Field(
        default=64,
        ge=1,
        le=4096,
        description="Messages this instance sends at once. A send still unanswered after a "
        "second stops counting (its destination's share still bounds it), up to four times "
        "this many in all: dead destinations never leave the live ones fewer places.",
    )
    outbox_per_destination: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Messages in flight to one destination at once, over all instances: a "
        "slow or dead destination holds at most this many of the senders' places, so it never "
        "delays the others.",
    )

    @property
    def most_sends_at_once(self) -> int:
        """The ceiling on this instance's sends, slow ones included (sockets, tasks)."""
        return 4 * self.outbox_concurrency

    outbox_lease: Duration = Field(
        default=timedelta(seconds=60),
        gt=timedelta(0),
        description="A message a sender took and has not finished within this (its instance "
        "died mid-send) is taken again by another: sent at least once, perhaps twice, with the "
        "same id. Keep it above RELAY247_SEND_TIMEOUT.",
    )
    outbox_poll_interval: Duration = Field(
        default=timedelta(seconds=1),
        gt=timedelta(0),
        description="How often a sender looks for due messages it was not woken for (retries, "
        "messages written by another instance).",
    )
    send_timeout: Duration = Field(
        default=timedelta(seconds=15),
        gt=timedelta(0),
        description="The longest one attempt may take, connecting and answering included.",
    )
    webhook_retry_schedule: list[float] = Field(
        default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000],
        min_length=1,
        max_length=32,
        description="Seconds before each attempt of a webhook, the first included (Svix's "
        "schedule: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); JSON list.",
    )
    alert_retry_schedule: list[float] = Field(
        default=[0, 5, 30, 120, 300],
        min_length=1,
        max_length=32,
        description="Seconds before each attempt of an alert to a person. Short: an alert is "
        "worth little late, and the escalation's repeats follow anyway.",
    )
    retry_jitter: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="Each retry's delay is moved by up to this fraction either way, so that "
        "messages failed together are not retried together.",
    )
    webhook_disable_after: Duration = Field(
        default=timedelta(days=5),
        gt=timedelta(0),
        description="An endpoint whose every attempt has failed for this long is disabled, and "
        "its agency's people are alerted.",
    )
    outbound_allow_http: bool = Field(
        default=False,
        description="Allow http:// webhook and gateway URLs (otherwise HTTPS only).",
    )
    outbound_allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Private, loopback or link-local networks a webhook or gateway may reach "
        "(JSON list of CIDRs); every other such address is refused when connecting, after "
        "DNS resolution.",
    )
    public_url: str = Field(
        default="http://localhost:8247",
        description="Where people reach this service: the base of the links in alerts.",
    )
    vapid_subject: str = Field(
        default="mailto:relay247@localhost",
        pattern=r"^(mailto:[^\s@]+@[^\s@]+|https://\S+)$",
        description="Who runs this service, as Web Push services are told (the VAPID JWT's "
        "`sub`, RFC 8292): a mailto: address or an https: URL they may write to about its "
        "pushes. Set it in production: some push services (Apple's) refuse a localhost one.",
    )
    ack_link_lifetime: Duration = Field(
        default=timedelta(minutes=30),
        gt=timedelta(0),
        le=timedelta(days=1),
        description="How long an alert's one-time acknowledge link works.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="The SMTP server e-mail alerts are sent through. Unset: no e-mail is "
        "sent (e-mail messages wait in the outbox until an instance has it).",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="The SMTP server's port.")
    smtp_starttls: bool = Field(
        default=True,
        description="Require STARTTLS before authenticating and sending (off only for a relay "
        "on the same host or a trusted network).",
    )
    smtp_tls_verify: bool = Field(
        default=True, description="Verify the SMTP server's certificate and name."
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="CA certificates (PEM) to verify the SMTP server with, instead of the "
        "system's (a private CA).",
    )
    smtp_username: str | None = Field(
        default=None, description="SMTP AUTH user name; unset: no authentication."
    )
    smtp_password: SecretStr | None = Field(default=None, description="SMTP AUTH password.")
    smtp_from: str = Field(
        default="relay247@localhost",
        pattern=r"^[^@\s<>\x00-\x1f]+@[^@\s<>\x00-\x1f]+$",
        description="The sender address of alert e-mails (From and the envelope).",
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="The service's secret (32 bytes; made, mode 0600, on first use if "
        "missing), from which the acknowledge links' and the webhook secrets' keys and the Web "
        "Push (VAPID) key are derived: changing it makes every browser subscribe again. "
        "Unset: service-secret.key in the data folder (RELAY247_DATA_DIR). Every instance of "
        "one deployment needs the same file (a mounted secret).",
    )

    def secret_key_path(self, database: DatabaseSettings) -> Path:
        return self.secret_key_file or database.data_dir / "service-secret.key"


class SharingSettings(BaseSettings):
    """Shared cybercrime data: the TAXII 2.1 server and the intake of bundles (app/taxii,
    app/sharing)."""

    model_config = SettingsConfigDict(env_prefix=_PREFIX, extra="ignore")

    taxii_max_content_length: int = Field(
        default=32 * 1024 * 1024,
        ge=1024,
        description="Largest body a TAXII POST (or a MISP event) may have: the API root's "
        "max_content_length; a larger one is refused with 413 before it is read.",
    )
    match_sweep_interval: Duration = Field(
        default=timedelta(seconds=30),
        gt=timedelta(0),
        le=timedelta(minutes=10),
        description="How often an instance matches the requests submitted lately against the "
        "whole store, for the pairs a request and a bundle committed at the same moment let "
        "pass (app/matching/sweeper.py).",
    )
    taxii_page_max: int = Field(
        default=1000,
        ge=1,
        le=10_000,
        description="Most objects (manifest entries, versions) one TAXII page returns, "
        "whatever `limit` asks for.",
    )
    intake_max_objects: int = Field(
        default=10_000,
        ge=1,
        description="Most objects one TAXII POST (a bundle or an envelope) may hold; more are "
        "refused (400) before any is validated: validation takes up to milliseconds an "
        "object, and a body of max_content_length holds a hundred thousand.",
    )
    misp_max_attributes: int = Field(
        default=1_000,
        ge=1,
        description="Most attributes (the event's and its objects') one MISP event may hold; "
        "more are refused (422) before it is converted: misp-stix takes tens of milliseconds "
        "an attribute, and makes some five STIX objects of each.",
    )
    share_retention_days: int = Field(
        default=365,
        ge=1,
        le=36500,
        description="Days a member agency's shared object is kept (a partner's: its "
        "agreement's retention_days).",
    )
    share_unmarked_handling: HandlingCode = Field(
        default=HandlingCode.AMBER,
        description="The handling code a member agency's shared object without a TLP marking "
        "takes (partners' unmarked objects follow their agreement).",
    )


# Read at the edges only (create_app, the CLI's commands), once per use case, and handed down
# as arguments: nothing below them reads the environment, so a test passes the settings it
# wants instead of changing the environment.
def database_settings() -> DatabaseSettings:
    return DatabaseSettings()


def api_settings() -> ApiSettings:
    return ApiSettings()


def realtime_settings() -> RealtimeSettings:
    return RealtimeSettings()


def exchange_settings() -> ExchangeSettings:
    return ExchangeSettings()


def audit_settings() -> AuditSettings:
    return AuditSettings()


def log_settings() -> LogSettings:
    return LogSettings()


def overload_settings() -> OverloadSettings:
    return OverloadSettings()


def outbox_settings() -> OutboxSettings:
    return OutboxSettings()


def sharing_settings() -> SharingSettings:
    return SharingSettings()


@dataclass(frozen=True, slots=True)
class Settings:
    """Every subsystem's settings: what create_app takes and keeps in ``app.state.settings``."""

    database: DatabaseSettings
    api: ApiSettings
    realtime: RealtimeSettings
    exchange: ExchangeSettings
    audit: AuditSettings
    log: LogSettings
    overload: OverloadSettings
    outbox: OutboxSettings
    sharing: SharingSettings

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            database=database_settings(),
            api=api_settings(),
            realtime=realtime_settings(),
            exchange=exchange_settings(),
            audit=audit_settings(),
            log=log_settings(),
            overload=overload_settings(),
            outbox=outbox_settings(),
            sharing=sharing_settings(),
        )
