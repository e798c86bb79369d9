"""The outbox: how fast messages leave, and how soon an alert reaches a person.

* ``webhooks``: one ``relay247 serve``; ``ENDPOINTS`` webhook endpoints on a fast local
  receiver (bench/outbox_receivers.py, a process of its own) and ``messages`` outbox
  messages written at once (as a burst of events would). Sends per second from the first
  attempt's start to the last one's end, each message's delivery after that first start,
  and the server's CPU. The floor: this process posting the same number of signed bodies of the
  same size to the same receiver at the sender's concurrency, with aiohttp and nothing else.
* ``black_hole``: the same, with one endpoint's URL on a port that accepts connections and
  never answers: its messages hold the per-destination cap for RELAY247_SEND_TIMEOUT each,
  and the other endpoints' delivery times should not move (compare their p99 with
  ``webhooks``').
* ``alerts``: two instances; a global desk person with a verified e-mail address (the
  receiver's SMTP server), a Web Push subscription (decrypted by the receiver) and a gateway,
  and a webhook endpoint of the global desk for ``request.escalated``. ``deadlines`` requests'
  acknowledgement deadlines are made due at one instant (bench/deadlines.py); each escalation
  to the global desk alerts on three channels and calls the webhook. From the due time to
  each arrival, per channel.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.alerts.contacts import GATEWAY_SEALED
from app.core.service_secret import ServiceSecret
from app.outbound.signatures import new_hmac_secret, signature_headers
from app.webhooks import SECRET_PURPOSE
from bench.deadlines import _make_due, _seconds_to, _set_aside, _set_policy, _submit
from bench.proc import tree_cpu_seconds
from bench.progress import progress
from bench.stack import BenchError, serving
from bench.stats import summarize_ms
from bench.workload import Credentials

OUTBOX_LOGS = (
    "outbox-webhooks.log",
    "outbox-black-hole.log",
    "outbox-alerts-a.log",
    "outbox-alerts-b.log",
)
ENDPOINTS = 16
SENDER_CONCURRENCY = 64  # RELAY247_OUTBOX_CONCURRENCY's default: the floor's concurrency too
DELIVERY_TIMEOUT_S = 120.0
ARRIVAL_TIMEOUT_S = 60.0
LEAD_S = 4.0
# A typical event's metadata: what a webhook carries.
_EVENT = {
    "request_id": "00000000-0000-4000-8000-000000000000",
    "type": "preservation",
    "priority": "urgent",
    "requesting_country": "DE",
    "target_country": "FR",
    "handling_code": "AMBER",
    "status": "delivered",
    "version": 1,
}


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Receivers:
    """bench/outbox_receivers.py running, and the subscription it decrypts pushes for."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = uuid.uuid4().bytes
        self.process: asyncio.subprocess.Process | None = None
        self.ports: dict[str, int] = {}

    @property
    def p256dh(self) -> str:
        point = self.key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return _b64url(point)

    def url(self, path: str, port: str = "http") -> str:
        return f"http://127.0.0.1:{self.ports[port]}{path}"

    async def __aenter__(self) -> Receivers:
        private = self.key.private_numbers().private_value.to_bytes(32, "big")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.outbox_receivers",
            # One argument each: a base64url value may begin with "-", which argparse would
            # take for an option of its own (the run failed so, one time in 32).
            f"--push-key={_b64url(private)}",
            f"--push-auth={_b64url(self.auth)}",
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        if not line:
            raise BenchError("outbox: the receivers did not start")
        self.ports = json.loads(line)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def arrivals(self) -> list[tuple[str, str, float]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.url("/arrivals")) as answer,
        ):
            return [tuple(row) for row in await answer.json()]  # type: ignore[misc]

    async def reset(self) -> None:
        async with aiohttp.ClientSession() as session, session.post(self.url("/reset")):
            pass


def outbox_environment(env: Mapping[str, str], receivers: Receivers, data: Path) -> dict[str, str]:
    return {
        **env,
        "RELAY247_OUTBOUND_ALLOW_HTTP": "true",
        "RELAY247_OUTBOUND_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "RELAY247_SECRET_KEY_FILE": str(data / "service-secret.key"),
        "RELAY247_SMTP_HOST": "127.0.0.1",
        "RELAY247_SMTP_PORT": str(receivers.ports["smtp"]),
        "RELAY247_SMTP_STARTTLS": "false",
    }


async def _endpoints(
    connection: asyncpg.Connection, secret: ServiceSecret, urls: list[str]
) -> list[uuid.UUID]:
    """Webhook endpoints of the first unit's agency, on a channel no event is published on:
    only the messages the bench writes go to them."""
    agency, creator = await connection.fetchrow(
        "SELECT agency_id, id FROM principals WHERE role = 'unit' ORDER BY created_at LIMIT 1"
    )
    ids = [uuid.uuid4() for _ in urls]
    await connection.executemany(
        "INSERT INTO webhook_endpoints (id, agency_id, url, channels, tlp_ceiling, secret, "
        "created_by) VALUES ($1, $2, $3, ARRAY['bench:none'], 'RED', $4, $5)",
        [
            (
                id_,
                agency,
                url,
                secret.seal(SECRET_PURPOSE, new_hmac_secret().encode()),
                creator,
            )
            for id_, url in zip(ids, urls, strict=True)
        ],
    )
    return ids


async def _write_messages(
    connection: asyncpg.Connection, endpoints: list[uuid.UUID], count: int
) -> None:
    await connection.execute(
        "INSERT INTO outbox_messages (id, route, destination_id, event_type, payload) "
        "SELECT gen_random_uuid(), 'webhook', ($1::uuid[])[1 + n % cardinality($1::uuid[])], "
        "'request.assigned', $3::jsonb FROM generate_series(0, $2 - 1) AS n",
        endpoints,
        count,
        json.dumps(_EVENT),
    )


async def _wait_sent(
    connection: asyncpg.Connection, endpoints: list[uuid.UUID], count: int
) -> bool:
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while time.monotonic() < deadline:
        sent = await connection.fetchval(
            "SELECT count(*) FROM outbox_messages WHERE destination_id = ANY($1::uuid[]) "
            "AND status = 'sent'",
            endpoints,
        )
        if sent >= count:
            return True
        await asyncio.sleep(0.1)
    return False


async def _delivery(connection: asyncpg.Connection, endpoints: list[uuid.UUID]) -> dict[str, Any]:
    rows = await connection.fetch(
        "SELECT extract(epoch FROM a.started_at)::float8 AS started, a.duration_ms, "
        "extract(epoch FROM m.created_at)::float8 AS written "
        "FROM outbox_messages m JOIN outbox_attempts a ON a.message_id = m.id "
        "WHERE m.destination_id = ANY($1::uuid[]) AND a.outcome = 'delivered'",
        endpoints,
    )
    if not rows:
        return {"delivered": 0}
    ends = [row["started"] + row["duration_ms"] / 1000 for row in rows]
    first = min(row["started"] for row in rows)
    elapsed = max(ends) - first
    return {
        "delivered": len(rows),
        "sends_per_s": round(len(rows) / elapsed, 1) if elapsed > 0 else None,
        # From the first send of the run (the sender found the burst by its poll, at a
        # moment that varies from run to run) to each message's delivery.
        "delivered_after_first_send_ms": summarize_ms(end - first for end in ends),
    }


async def _floor(receivers: Receivers, count: int) -> dict[str, Any]:
    """The same bodies, signed, posted by aiohttp alone at the sender's concurrency."""
    body = json.dumps({"type": "request.assigned", "timestamp": "", "data": _EVENT}).encode()
    secret = new_hmac_secret()
    urls = [receivers.url(f"/webhook/{n}") for n in range(ENDPOINTS)]
    queue = iter(range(count))
    connector = aiohttp.TCPConnector(limit=SENDER_CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            for n in queue:
                headers = signature_headers(str(uuid.uuid4()), int(time.time()), body, [secret])
                async with session.post(urls[n % ENDPOINTS], data=body, headers=headers) as r:
                    await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(SENDER_CONCURRENCY)))
        elapsed = time.perf_counter() - started
    return {"sent": count, "sends_per_s": round(count / elapsed, 1)}


async def _webhooks(
    env: dict[str, str],
    log: Path,
    connection: asyncpg.Connection,
    secret: ServiceSecret,
    receivers: Receivers,
    *,
    count: int,
    black_hole: bool,
) -> dict[str, Any]:
    urls = [receivers.url(f"/webhook/{n}") for n in range(ENDPOINTS)]
    if black_hole:
        urls[0] = receivers.url("/webhook/hole", port="black_hole")
    endpoints = await _endpoints(connection, secret, urls)
    answering = endpoints[1:] if black_hole else endpoints
    expected = count - (count // ENDPOINTS + 1 if black_hole else 0)
    async with serving(env, log, 1) as server:
        cpu_before = tree_cpu_seconds(server.pid)
        started = time.perf_counter()
        await _write_messages(connection, endpoints, count)
        complete = await _wait_sent(connection, answering, expected)
        elapsed = time.perf_counter() - started
        cpu_after = tree_cpu_seconds(server.pid)
        section = await _delivery(connection, answering)
        # What the black hole still holds is not waited for.
        await connection.execute(
            "UPDATE outbox_messages SET status = 'cancelled' WHERE status = 'pending' "
            "AND destination_id = ANY($1::uuid[])",
            endpoints,
        )
    cpu = (cpu_after - cpu_before) if cpu_after is not None and cpu_before is not None else None
    section |= {
        "complete": complete,
        "messages": count,
        "endpoints": ENDPOINTS,
        "server_cpu_ms_per_send": round(cpu * 1000 / section["delivered"], 3)
        if cpu is not None and section.get("delivered")
        else None,
        "server_cores": round(cpu / elapsed, 2) if cpu is not None else None,
    }
    await connection.execute(
        "UPDATE webhook_endpoints SET disabled_at = now() WHERE id = ANY($1::uuid[])", endpoints
    )
    return section


async def _alert_destinations(
    connection: asyncpg.Connection, secret: ServiceSecret, receivers: Receivers
) -> None:
    """The global desk's people get three verified ways to be reached; their agency a
    webhook endpoint for escalations."""
    people = await connection.fetch("SELECT id, agency_id FROM principals WHERE role = 'gs'")
    if not people:
        raise BenchError("outbox: the seed has no global desk person")
    for person in people:
        await connection.execute(
            "INSERT INTO contact_methods (id, principal_id, kind, address, keys, verified_at) "
            "VALUES (gen_random_uuid(), $1, 'email', 'desk@bench.example', NULL, now()), "
            "(gen_random_uuid(), $1, 'web_push', $2, $3::jsonb, now())",
            person["id"],
            receivers.url(f"/push/{person['id']}"),
            json.dumps({"p256dh": receivers.p256dh, "auth": _b64url(receivers.auth)}),
        )
        await connection.execute(
            "INSERT INTO contact_methods (id, principal_id, kind, address, secret, verified_at) "
            "VALUES (gen_random_uuid(), $1, 'gateway', $2, $3, now())",
            person["id"],
            receivers.url(f"/gateway/{person['id']}"),
            secret.seal(GATEWAY_SEALED, new_hmac_secret().encode()),
        )
    await connection.execute(
        "INSERT INTO webhook_endpoints (id, agency_id, url, channels, event_types, tlp_ceiling, "
        "secret, created_by) VALUES (gen_random_uuid(), $1, $2, ARRAY['desk:*'], "
        "ARRAY['request.escalated'], 'RED', $3, $4)",
        people[0]["agency_id"],
        receivers.url("/webhook/desk"),
        secret.seal(SECRET_PURPOSE, new_hmac_secret().encode()),
        people[0]["id"],
    )


async def _requests_of(
    connection: asyncpg.Connection, arrivals: list[tuple[str, str, float]]
) -> dict[str, str]:
    """The request of each arrival named by its outbox message's id."""
    ids = [uuid.UUID(key) for kind, key, _ in arrivals if kind != "web_push" and _is_uuid(key)]
    rows = await connection.fetch(
        "SELECT id::text, request_id::text FROM outbox_messages WHERE id = ANY($1::uuid[])", ids
    )
    return {row["id"]: row["request_id"] for row in rows}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def _alerts(
    env: dict[str, str],
    log_dir: Path,
    connection: asyncpg.Connection,
    secret: ServiceSecret,
    receivers: Receivers,
    credentials: Credentials,
    *,
    count: int,
) -> dict[str, Any]:
    await _set_policy(connection)
    await _set_aside(connection)
    await _alert_destinations(connection, secret, receivers)
    await receivers.reset()
    async with (
        serving(env, log_dir / "outbox-alerts-a.log", 1) as a,
        serving(env, log_dir / "outbox-alerts-b.log", 1),
    ):
        ids = await _submit(a, credentials, 1_000_000, count)
        wanted = set(ids)
        due = await _make_due(connection, ids, LEAD_S)
        progress(f"outbox: {count} escalations due in {LEAD_S:g} s, alerts on 3 channels + webhook")
        await asyncio.sleep(max(0.0, await _seconds_to(connection, due)))
        kinds = ("email", "web_push", "gateway", "webhook")
        latencies: dict[str, dict[str, float]] = {kind: {} for kind in kinds}
        deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
        while time.monotonic() < deadline:
            arrivals = await receivers.arrivals()
            requests = await _requests_of(connection, arrivals)
            for kind, key, at in arrivals:
                request = key if kind == "web_push" else requests.get(key)
                if request in wanted:
                    latencies[kind].setdefault(request, at - due)
            if all(len(latencies[kind]) >= count for kind in kinds):
                break
            await asyncio.sleep(0.5)
    return {
        "escalations": count,
        "instances": 2,
        "due_to_arrival_ms": {
            kind: summarize_ms(latencies[kind].values()) | {"arrived": len(latencies[kind])}
            for kind in kinds
        },
    }


@contextlib.asynccontextmanager
async def _connected(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(dsn)
    try:
        yield connection
    finally:
        await connection.close()


async def run_outbox(
    env: Mapping[str, str],
    log_dir: Path,
    credentials: Credentials,
    dsn: str,
    *,
    messages: int,
    deadlines: int,
) -> dict[str, Any]:
    async with Receivers() as receivers, _connected(dsn) as connection:
        data = Path(env.get("RELAY247_DATA_DIR", log_dir))
        outbox_env = outbox_environment(env, receivers, data)
        secret = ServiceSecret(Path(outbox_env["RELAY247_SECRET_KEY_FILE"]))
        webhooks = await _webhooks(
            outbox_env,
            log_dir / "outbox-webhooks.log",
            connection,
            secret,
            receivers,
            count=messages,
            black_hole=False,
        )
        floor = await _floor(receivers, messages)
        hole = await _webhooks(
            outbox_env,
            log_dir / "outbox-black-hole.log",
            connection,
            secret,
            receivers,
            count=messages,
            black_hole=True,
        )
        alerts = await _alerts(
            outbox_env, log_dir, connection, secret, receivers, credentials, count=deadlines
        )
    section = {"webhooks": webhooks, "floor": floor, "black_hole": hole, "alerts": alerts}
    progress(
        f"outbox: {webhooks.get('sends_per_s')} webhook sends/s (floor {floor['sends_per_s']}); "
        f"p99 with a black hole {hole.get('delivered_after_first_send_ms', {}).get('p99')} ms vs "
        f"{webhooks.get('delivered_after_first_send_ms', {}).get('p99')} ms; alerts "
        + ", ".join(
            f"{kind} p50 {v['p50']} p99 {v['p99']} ms ({v['arrived']})"
            for kind, v in alerts["due_to_arrival_ms"].items()
        )
    )
    return section


def outbox_ratios(section: Mapping[str, Any]) -> dict[str, Any]:
    sends = section["webhooks"].get("sends_per_s")
    floor = section["floor"].get("sends_per_s")
    plain = section["webhooks"].get("delivered_after_first_send_ms", {}).get("p99")
    holed = section["black_hole"].get("delivered_after_first_send_ms", {}).get("p99")
    return {
        "webhook_sends_vs_floor": round(sends / floor, 3) if sends and floor else None,
        "black_hole_p99_vs_plain_p99": round(holed / plain, 3) if holed and plain else None,
    }
