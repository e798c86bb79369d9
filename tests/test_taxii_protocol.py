"""TAXII 2.1's HTTP rules, by hand: media types (406, 415), the body limit (413), 401, a
forged `next`, unknown collections, objects and statuses (404); every refusal a TAXII error
message with the TAXII media type."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from app.core.canonical import sha256_hex
from app.core.database.urls import asyncpg_dsn
from app.core.settings import Settings
from tests.clients import http
from tests.conftest import RunningServer, changed
from tests.factories import World
from tests.taxii_support import (
    GATEWAY,
    TAXII,
    envelope,
    headers,
    inbox_of,
    indicator,
    make_share,
    objects_url,
    post,
    stored,
)


@pytest.fixture
def settings() -> Settings:
    return changed(
        Settings.from_environment(),
        sharing={
            "taxii_max_content_length": 4096,
            "intake_max_objects": 3,
            "misp_max_attributes": 2,
        },
    )


def _is_taxii_error(response: object, status: int) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == TAXII  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["http_status"] == str(status)
    assert body["title"]
    assert body["description"]


@pytest.mark.parametrize(
    "accept",
    [None, "application/json", "application/taxii+json;version=2.0", "text/html;q=1, */*;q=0"],
)
async def test_a_request_that_does_not_accept_taxii_2_1_is_406(
    server: RunningServer, world: World, accept: str | None
) -> None:
    sent = {**world.unit("DE").headers, **({"Accept": accept} if accept else {})}
    async with http(server.http) as client:
        if accept is None:
            client.headers.pop("accept", None)
        response = await client.get("/taxii2/api/collections/", headers=sent)
    _is_taxii_error(response, 406)


@pytest.mark.parametrize(
    "accept", [TAXII, "application/taxii+json", "application/taxii+json; version=2.1", "*/*"]
)
async def test_taxii_2_1_or_a_wildcard_is_served(
    server: RunningServer, world: World, accept: str
) -> None:
    async with http(server.http) as client:
        response = await client.get(
            "/taxii2/api/", headers={**world.unit("DE").headers, "Accept": accept}
        )
    assert response.status_code == 200
    assert response.headers["content-type"] == TAXII


async def test_without_a_token_is_401_as_taxii(server: RunningServer) -> None:
    async with http(server.http) as client:
        response = await client.get("/taxii2/api/collections/", headers={"Accept": TAXII})
    _is_taxii_error(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_post_of_another_media_type_is_415(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    partner = world.partner("DE")
    inbox = await inbox_of(db, partner)
    async with http(server.http) as client:
        response = await client.post(
            objects_url(inbox),
            json=envelope(indicator()),
            headers=headers(partner, **{"Content-Type": "application/json"}),
        )
    _is_taxii_error(response, 415)
    assert await stored(db, inbox) == 0


async def test_a_body_over_max_content_length_is_413_before_it_is_read(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    partner = world.partner("DE")
    inbox = await inbox_of(db, partner)
    big = envelope(*[indicator(f"198.51.100.{n}") for n in range(20)])
    async with http(server.http) as client:
        declared = await post(client, partner, inbox, big)

        async def chunks():  # no Content-Length: chunked, counted as it arrives
            yield b'{"objects": ['
            for _ in range(100):
                yield b'"' + b"x" * 100 + b'",'
            yield b"1]}"

        chunked = await client.post(objects_url(inbox), content=chunks(), headers=headers(partner))
    _is_taxii_error(declared, 413)
    _is_taxii_error(chunked, 413)
    assert await stored(db, inbox) == 0
    api_root = None
    async with http(server.http) as client:
        api_root = (await client.get("/taxii2/api/", headers=headers(partner))).json()
    assert api_root["max_content_length"] == 4096


async def test_a_forged_or_carried_over_next_is_400(server: RunningServer, world: World) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        share = await make_share(client, unit, None)
        other = await make_share(client, unit, None)
        added = await post(
            client, unit, share, envelope(*[indicator(f"192.0.2.{n}") for n in range(3)])
        )
        assert added.status_code == 202
        first = await client.get(objects_url(share), params={"limit": 1}, headers=headers(unit))
        token = first.json()["next"]
        assert first.json()["more"] is True
        following = await client.get(
            objects_url(share), params={"limit": 1, "next": token}, headers=headers(unit)
        )
        assert following.status_code == 200
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        forged = await client.get(
            objects_url(share), params={"next": tampered}, headers=headers(unit)
        )
        garbage = await client.get(
            objects_url(share), params={"next": "x.y"}, headers=headers(unit)
        )
        elsewhere = await client.get(
            objects_url(other), params={"next": token}, headers=headers(unit)
        )
        refiltered = await client.get(
            objects_url(share),
            params={"next": token, "match[type]": "indicator"},
            headers=headers(unit),
        )
    for response in (forged, garbage, elsewhere, refiltered):
        _is_taxii_error(response, 400)


async def test_unknown_collection_object_status_and_path_are_404(
    server: RunningServer, world: World
) -> None:
    unit = world.unit("FR")
    async with http(server.http) as client:
        share = await make_share(client, unit, None)
        for path in (
            "/taxii2/api/collections/not-a-uuid/",
            "/taxii2/api/collections/00000000-0000-4000-8000-000000000000/objects/",
            f"/taxii2/api/collections/{share}/objects/indicator--00000000-0000-4000-8000-000000000000/",
            f"/taxii2/api/collections/{share}/objects/indicator--00000000-0000-4000-8000-000000000000/versions/",
            "/taxii2/api/status/00000000-0000-4000-8000-000000000000/",
            "/taxii2/api/nothing-here/",
        ):
            _is_taxii_error(await client.get(path, headers=headers(unit)), 404)
        _is_taxii_error(
            await client.get(
                f"/taxii2/api/collections/{GATEWAY}/objects/",
                params={"match[bogus]": "x"},
                headers=headers(unit),
            ),
            400,
        )


@pytest.mark.parametrize(
    ("where", "params"),
    [
        ("objects/", {"match[type]": "indicator\x00"}),
        ("objects/", {"match[id]": "\x00"}),
        ("objects/", {"match[spec_version]": "2.1\x00"}),
        ("manifest/", {"match[type]": "\x00"}),
        ("objects/", {"added_after": "2024-01-01T00:00:00\x00Z"}),
        ("objects/", {"limit": "\u00b2"}),
        ("objects/", {"limit": "\u0661"}),
        ("objects/indicator--%00/", {}),
        ("objects/indicator--%00/versions/", {}),
        ("objects/indicator--x/", {"match[spec_version]": "\x00"}),
    ],
)
async def test_a_nul_or_a_non_ascii_digit_in_a_filter_or_an_id_is_400_not_500(
    server: RunningServer, world: World, where: str, params: dict[str, str]
) -> None:
    # Postgres text cannot hold NUL (a 500 from the driver); int() refuses "²" that
    # str.isdigit() accepts.
    unit = world.unit("FR")
    async with http(server.http) as client:
        response = await client.get(
            f"/taxii2/api/collections/{GATEWAY}/{where}", params=params, headers=headers(unit)
        )
    _is_taxii_error(response, 400)


async def test_a_bundle_or_a_misp_event_over_its_count_is_refused_before_it_is_validated(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    # Validating a slow-path object takes milliseconds and converting a MISP attribute tens of
    # them: a body of max_content_length would hold a CPU for minutes.
    partner = world.partner("DE")
    inbox = await inbox_of(db, partner)
    attribute = {"type": "ip-dst", "category": "Network activity", "to_ids": True}
    event = {
        "Event": {
            "info": "x",
            "date": "2025-01-01",
            "Orgc": {"name": "o"},
            "Attribute": [{**attribute, "value": f"192.0.2.{n}"} for n in range(2)],
            "Object": [{"name": "ip-port", "Attribute": [{**attribute, "value": "192.0.2.9"}]}],
        }
    }
    async with http(server.http) as client:
        bundle = await post(
            client, partner, inbox, envelope(*[indicator(f"192.0.2.{n}") for n in range(4)])
        )
        misp = await client.post(
            "/v1/shared-data/misp-events",
            params={"collection": inbox},
            json=event,
            headers=partner.headers,
        )
    _is_taxii_error(bundle, 400)
    assert "over 3 a POST may" in bundle.json()["description"]
    assert misp.status_code == 422, misp.text
    assert "over 2 an event may" in misp.json()["detail"]
    assert await stored(db, inbox) == 0


async def test_a_poller_never_passes_an_object_whose_writer_is_still_open(
    server: RunningServer, world: World, db: asyncpg.Connection, database_url: str
) -> None:
    """An object dated earlier but committed later than another: a poller following
    X-TAXII-Date-Added-Last with added_after still gets both (app/sharing/added_order.py)."""
    sharer, reader = world.unit("FR"), world.unit("DE")
    early, late = indicator("198.51.100.21"), indicator("198.51.100.22")
    writer = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        async with http(server.http) as client:
            share = await make_share(client, sharer, ["DE"])
            opened = writer.transaction()
            await opened.start()
            await writer.execute("LOCK TABLE stix_objects IN ROW EXCLUSIVE MODE")
            await writer.execute(
                "INSERT INTO stix_objects (collection_id, origin, stix_id, type, spec_version, "
                "version, object, object_hash, handling_code, purge_after) VALUES ($1, "
                "'submitted', $2, 'indicator', '2.1', now(), $3::jsonb, $4, 'GREEN', "
                "now() + interval '1 day')",
                uuid.UUID(share),
                early["id"],
                json.dumps(early),
                sha256_hex(early),
            )
            assert (await post(client, sharer, share, envelope(late))).status_code == 202

            polled = await client.get(objects_url(share), headers=headers(reader))
            assert polled.status_code == 200, polled.text
            # The later object waits for the earlier one's writer: nothing to pass yet.
            assert polled.json().get("objects", []) == []

            await opened.commit()
            polled = await client.get(objects_url(share), headers=headers(reader))
            assert [o["id"] for o in polled.json()["objects"]] == [early["id"], late["id"]]
            last = polled.headers["X-TAXII-Date-Added-Last"]
            again = await client.get(
                objects_url(share), headers=headers(reader), params={"added_after": last}
            )
            assert again.json().get("objects", []) == []
    finally:
        await writer.close()
