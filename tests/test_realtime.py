"""Submit over REST, receive the push on the target desk's socket, acknowledge, and see the
acknowledgement on the requester's socket; plus the socket's own rules."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from app.core.database import Database
from app.core.database.urls import asyncpg_dsn
from app.realtime import event_log
from app.realtime.protocol import CLOSE_TOO_SLOW
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import World, make_world
from tests.feeds import append_raw_events
from tests.waiting import eventually


async def submit(server: RunningServer, world: World, target: str = "DE") -> str:
    async with http(server.http) as client:
        created = await submit_request(client, world.unit("FR"), target)
    request_id: str = created["id"]
    return request_id


async def test_submitted_request_is_pushed_to_target_desk_and_ack_reaches_requester(
    server: RunningServer, world: World
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    ncb = await Dashboard.open(server.ws, world("DE", world.desk("DE").role.NCB))
    requester = await Dashboard.open(server.ws, world.unit("FR"), via_frame=True)
    other_desk = await Dashboard.open(server.ws, world.desk("JP"))
    # A contact point follows its desk, and its own channel for what is assigned to it.
    assert desk.welcome["channels"] == ["desk:DE", f"principal:{world.desk('DE').principal_id}"]

    request_id = await submit(server, world)

    assigned = await desk.receive_event("request.assigned")
    assert assigned["data"]["request_id"] == request_id
    assert assigned["channel"] == "desk:DE"
    assert assigned["offset"] == desk.heads["desk:DE"] + 1
    assert "subject" not in assigned["data"], "pushes carry metadata, never content"
    assert (await ncb.receive_event("request.assigned"))["data"]["request_id"] == request_id

    await desk.send({"type": "ack", "request_id": request_id})
    result = await desk.receive()
    assert result["type"] == "ack_result"
    assert result["already_acknowledged"] is False
    assert result["acknowledged_by"] == str(world.desk("DE").principal_id)

    acknowledged = await requester.receive_event("request.acknowledged")
    assert acknowledged["data"]["request_id"] == request_id
    assert acknowledged["data"]["status"] == "acknowledged"
    # The rest of the desk learns it is taken care of.
    assert (await desk.receive_event("request.acknowledged"))["data"]["request_id"] == request_id
    assert (await ncb.receive_event("request.acknowledged"))["data"]["request_id"] == request_id

    await other_desk.assert_silent()
    for dashboard in (desk, ncb, requester, other_desk):
        await dashboard.close()


async def test_second_ack_is_a_noop_that_says_so(server: RunningServer, world: World) -> None:
    request_id = await submit(server, world)
    requester = await Dashboard.open(server.ws, world.unit("FR"))
    async with http(server.http) as client:
        first = await client.post(
            f"/v1/requests/{request_id}/ack", headers=world.desk("DE").headers
        )
        second = await client.post(
            f"/v1/requests/{request_id}/ack", headers=world.desk("DE").headers
        )
    assert first.status_code == second.status_code == 200
    assert first.json()["already_acknowledged"] is False
    assert second.json()["already_acknowledged"] is True
    assert second.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    await requester.receive_event("request.acknowledged")
    await requester.assert_silent()
    await requester.close()


async def test_ack_frame_for_a_request_you_may_not_see_is_refused(
    server: RunningServer, world: World
) -> None:
    request_id = await submit(server, world, target="DE")
    japan = await Dashboard.open(server.ws, world.desk("JP"))
    await japan.send({"type": "ack", "request_id": request_id})
    error = await japan.receive()
    assert error["type"] == "error"
    assert error["status"] == 404
    await japan.close()


@pytest.mark.parametrize(
    ("connect_kwargs", "reason_part"),
    [
        (
            {"additional_headers": {"Authorization": f"Bearer r247_0123456789ab_{'A' * 43}"}},
            "unknown",
        ),
        ({"additional_headers": {"Authorization": "Bearer garbage"}}, "malformed"),
        ({"additional_headers": {"Origin": "https://evil.example"}}, "origin"),
    ],
)
async def test_socket_refuses_bad_credentials_and_foreign_origins(
    server: RunningServer, connect_kwargs: dict[str, dict[str, str]], reason_part: str
) -> None:
    async with connect(server.ws, **connect_kwargs) as connection:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert reason_part in closed.value.rcvd.reason


async def test_socket_refuses_token_in_url(server: RunningServer, world: World) -> None:
    async with connect(f"{server.ws}?token={world.desk('DE').token}") as connection:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "URL" in closed.value.rcvd.reason


async def test_socket_that_never_authenticates_is_closed(server: RunningServer) -> None:
    app = server.server.config.app
    app.state.realtime_settings = app.state.realtime_settings.model_copy(
        update={"ws_auth_timeout": timedelta(seconds=0.3)}
    )
    async with connect(server.ws) as connection:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "authenticate first" in closed.value.rcvd.reason


async def test_unreadable_frames_get_an_error_and_the_socket_stays_open(
    server: RunningServer, world: World
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    await desk.connection.send("not json")
    assert "unreadable frame" in (await desk.receive())["detail"]
    await desk.send({"type": "ack", "request_id": "not-a-uuid"})
    assert "request_id" in (await desk.receive())["detail"]
    await desk.send({"type": "ping"})
    assert (await desk.receive()) == {"type": "pong"}
    await desk.close()


async def test_resume_replays_every_missed_event_in_order_then_live_ones(
    server: RunningServer, world: World
) -> None:
    first = await Dashboard.open(server.ws, world.desk("DE"))
    start = first.heads["desk:DE"]
    await first.close()
    missed = [await submit(server, world) for _ in range(5)]

    desk = await Dashboard.open(server.ws, world.desk("DE"), resume={"desk:DE": start})
    replayed = [await desk.receive_event("request.assigned") for _ in missed]
    assert [e["data"]["request_id"] for e in replayed] == missed
    assert [e["offset"] for e in replayed] == list(range(start + 1, start + 6))
    assert (await desk.receive())["type"] == "resumed"

    live = await submit(server, world)
    event = await desk.receive_event("request.assigned")
    assert (event["data"]["request_id"], event["offset"]) == (live, start + 6)
    await desk.close()


async def test_a_resume_ahead_of_a_lagging_hub_repeats_nothing(
    server: RunningServer, world: World, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reconnect storm's duplicates, forced: the hub is held back from reading the table
    (in the storm it waited seconds for a connection behind every socket's backfill), a
    socket behind the replay buffer is sent offsets from the table past the hub's head, and
    its client reconnects with that cursor. The server used to take the hub's head for the
    channel's last offset, "correct" the cursor down to it and send those offsets again."""
    dsn = asyncpg_dsn(database_url)
    hub = server.app.state.hub
    hub_may_read = asyncio.Event()
    catch_up = hub._catch_up

    async def held_back(channels: set[str]) -> None:
        await hub_may_read.wait()
        await catch_up(channels)

    monkeypatch.setattr(hub, "_catch_up", held_back)
    start = await append_raw_events(dsn, "desk:DE", 10)
    headers = world.desk("DE").headers
    async with connect(server.ws, additional_headers=headers) as first:
        assert json.loads(await first.recv())["heads"]["desk:DE"] == start
        last = await append_raw_events(dsn, "desk:DE", 5)  # committed; the hub has not read it
        await first.send(json.dumps({"type": "resume", "cursors": {"desk:DE": start - 5}}))
        sent = [json.loads(await asyncio.wait_for(first.recv(), 5)) for _ in range(10)]
        assert [frame["offset"] for frame in sent] == list(range(start - 4, last + 1))
        assert hub.head("desk:DE") == start  # the first socket got 5 offsets past the hub

        # Its client reconnects with what it has (the first socket still holds the channel
        # on this instance, as a dropped socket does until the server notices).
        again = await Dashboard.open(server.ws, world.desk("DE"), resume={"desk:DE": last})
        assert again.heads["desk:DE"] == start
        resumed = await again.receive()  # no error frame, and no offset it already has
        assert resumed["type"] == "resumed", resumed
        assert resumed["cursors"]["desk:DE"] == last

        hub_may_read.set()
        live = await append_raw_events(dsn, "desk:DE", 1)
        assert (await again.receive_event("request.updated"))["offset"] == live == last + 1
        await again.assert_silent()
        await again.close()


async def test_resume_of_a_channel_not_yours_is_refused(
    server: RunningServer, world: World
) -> None:
    async with connect(server.ws, additional_headers=world.desk("JP").headers) as connection:
        await connection.send(json.dumps({"type": "resume", "cursors": {"desk:DE": 0}}))
        assert json.loads(await connection.recv())["type"] == "welcome"
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "desk:DE" in closed.value.rcvd.reason


async def test_events_committed_out_of_id_order_reach_sockets_in_offset_order(
    server: RunningServer, world: World, database_url: str
) -> None:
    """Offsets are taken under the channel's row lock, so a transaction that began first but
    commits last still gets the later offset: offsets follow commit order."""
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    slow = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        transaction = slow.transaction()
        await transaction.start()
        # A big event id taken first, offset not yet: as a slow writer would.
        await slow.execute("SELECT nextval(pg_get_serial_sequence('events', 'id'))")
        fast_id = await submit(server, world)
        fast = await desk.receive_event("request.assigned")
        offset = await slow.fetchval(
            "INSERT INTO channels AS c (name, last_offset) VALUES ('desk:DE', 1) "
            "ON CONFLICT (name) DO UPDATE SET last_offset = c.last_offset + 1 "
            "RETURNING last_offset"
        )
        await slow.execute(
            "INSERT INTO events (channel, \"offset\", type, data) VALUES ('desk:DE', $1, "
            "'request.updated', $2::jsonb)",
            offset,
            json.dumps({"note": "slow"}),
        )
        await transaction.commit()
        await slow.execute("SELECT pg_notify('relay247_events', 'desk:DE')")
    finally:
        await slow.close()
    late = await desk.receive_event("request.updated")
    assert fast["data"]["request_id"] == fast_id
    assert late["offset"] == fast["offset"] + 1
    await desk.close()


def _send_timeout(server: RunningServer, seconds: float) -> None:
    app = server.server.config.app
    app.state.realtime_settings = app.state.realtime_settings.model_copy(
        update={"ws_send_timeout": timedelta(seconds=seconds)}
    )


async def test_a_client_that_stops_reading_is_closed_with_4000_and_resumes_losing_nothing(
    server: RunningServer, world: World, database_url: str
) -> None:
    _send_timeout(server, 1)
    count = 250
    # max_queue=1: the client library stops reading the socket once one frame is unread.
    async with connect(
        server.ws, additional_headers=world.desk("DE").headers, max_queue=1
    ) as connection:
        await connection.send(json.dumps({"type": "resume", "cursors": {}}))
        start = json.loads(await connection.recv())["heads"]["desk:DE"]
        assert json.loads(await connection.recv())["type"] == "resumed"
        # 250 x 100 kB is far more than loopback socket buffers hold: the server's send blocks,
        # and after the 1 s send timeout the server gives up on this client.
        await append_raw_events(asyncpg_dsn(database_url), "desk:DE", count, pad=100_000)

        async def given_up() -> bool:  # before this client reads again
            return all(socket.close_code == CLOSE_TOO_SLOW for socket in server.app.state.sockets)

        await eventually(given_up)
        received = 0
        closed: ConnectionClosed | None = None
        while closed is None:
            try:
                await asyncio.wait_for(connection.recv(), 10)
                received += 1
            except ConnectionClosed as exc:
                closed = exc
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4000
    assert received < count

    desk = await Dashboard.open(server.ws, world.desk("DE"), resume={"desk:DE": start})
    offsets = [(await desk.receive_event("request.updated"))["offset"] for _ in range(count)]
    assert offsets == list(range(start + 1, start + count + 1))
    assert (await desk.receive())["type"] == "resumed"
    await desk.close()


async def test_a_client_that_keeps_reading_is_never_closed_by_a_burst(
    server: RunningServer, world: World, database_url: str
) -> None:
    """Slowness is measured as time without progress on the socket, not as events pending:
    5,000 events committed at once reach a client that reads as fast as it can."""
    _send_timeout(server, 1)
    count = 5000
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    start = desk.heads["desk:DE"]
    await append_raw_events(asyncpg_dsn(database_url), "desk:DE", count, pad=200)
    offsets = [(await desk.receive_event("request.updated"))["offset"] for _ in range(count)]
    assert offsets == list(range(start + 1, start + count + 1))
    await desk.send({"type": "ping"})
    assert (await desk.receive()) == {"type": "pong"}
    await desk.close()


async def test_the_global_desk_hears_every_request_of_the_network_live(
    server: RunningServer, world: World
) -> None:
    global_desk = await Dashboard.open(server.ws, world.gs)
    # "triage": the queue of partners' data, which the global desk triages.
    assert set(global_desk.welcome["channels"]) == {
        "global",
        "triage",
        "desk:DE",
        "desk:FR",
        "desk:JP",
    }
    to_germany = await submit(server, world, target="DE")
    async with http(server.http) as client:
        to_france = (await submit_request(client, world.unit("JP"), "FR"))["id"]
    seen = [await global_desk.receive_event("request.assigned") for _ in range(2)]
    assert {(e["channel"], e["data"]["request_id"]) for e in seen} == {
        ("desk:DE", to_germany),
        ("desk:FR", to_france),
    }
    await global_desk.close()


async def test_the_global_desk_follows_a_country_that_joins_while_it_is_connected(
    server: RunningServer, world: World, database: Database
) -> None:
    global_desk = await Dashboard.open(server.ws, world.gs)
    assert "desk:BR" not in global_desk.welcome["channels"]
    brazil = await make_world(database, countries=("BR",), with_gs=False)
    request_id = await submit(server, world, target="BR")
    event = await global_desk.receive_event("request.assigned")
    assert (event["channel"], event["offset"]) == ("desk:BR", 1)
    assert event["data"]["request_id"] == request_id
    assert brazil.desk("BR").country == "BR"
    await global_desk.close()


async def test_the_global_desk_resumes_every_desk(server: RunningServer, world: World) -> None:
    first = await Dashboard.open(server.ws, world.gs)
    cursors = {c: n for c, n in first.heads.items() if c.startswith("desk:")}
    await first.close()
    missed = {await submit(server, world, target=target) for target in ("DE", "JP", "DE")}
    global_desk = await Dashboard.open(server.ws, world.gs, resume=cursors)
    replayed = [await global_desk.receive_event("request.assigned") for _ in missed]
    assert {e["data"]["request_id"] for e in replayed} == missed
    assert (await global_desk.receive())["type"] == "resumed"
    await global_desk.close()


async def test_every_committed_session_wakes_listeners_and_a_rolled_back_one_none(
    database: Database, world: World
) -> None:
    woken: list[set[str]] = []
    database.on_commit(lambda channels: woken.append(set(channels)))
    # Sessions opened any way at all, not only through Database.transaction().
    async with database.sessions() as session:
        await event_log.publish(
            session, "request.updated", channels=["desk:DE"], request_id=None, data={}
        )
        await session.commit()
    async with database.sessions() as session:
        await event_log.publish(
            session, "request.updated", channels=["desk:JP"], request_id=None, data={}
        )
        await session.rollback()
    async with database.transaction() as session:
        await event_log.publish(
            session, "request.updated", channels=["desk:FR"], request_id=None, data={}
        )
    assert woken == [{"desk:DE"}, {"desk:FR"}]


HOSTILE_RESUMES: list[tuple[str, object, str]] = [
    # (case, cursors, a word the close reason must contain)
    ("negative offset", {"desk:DE": -1}, "invalid resume"),
    ("offset beyond 64 bits", {"desk:DE": 2**64}, "invalid resume"),
    ("offset as text", {"desk:DE": "12"}, "invalid resume"),
    ("cursors as a list", [["desk:DE", 1]], "invalid resume"),
    ("a NUL in a channel name", {"desk:DE\u0000": 1}, "not yours"),
    ("another country's desk", {"desk:FR": 0}, "not yours"),
    ("too many channels", {f"desk:{n}": 0 for n in range(1001)}, "invalid resume"),
]


@pytest.mark.parametrize(
    ("case", "cursors", "says"), HOSTILE_RESUMES, ids=[c[0] for c in HOSTILE_RESUMES]
)
async def test_a_hostile_resume_is_refused_with_a_policy_close(
    server: RunningServer, world: World, case: str, cursors: object, says: str
) -> None:
    async with connect(server.ws, additional_headers=world.desk("DE").headers) as connection:
        await connection.send(json.dumps({"type": "resume", "cursors": cursors}))
        assert json.loads(await connection.recv())["type"] == "welcome"
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(connection.recv(), 5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert says in closed.value.rcvd.reason


async def test_a_hostile_ack_gets_an_error_frame_and_the_socket_stays(
    server: RunningServer, world: World
) -> None:
    desk = await Dashboard.open(server.ws, world.desk("DE"))
    for request_id in ("\u0000", "00000000-0000-0000-0000-000000000000", "x" * 10_000, None):
        await desk.send({"type": "ack", "request_id": request_id})
        error = await desk.receive()
        assert error["type"] == "error", error
    await desk.send({"type": "ping"})
    assert await desk.receive() == {"type": "pong"}
    await desk.close()
