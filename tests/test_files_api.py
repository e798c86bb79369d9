"""Evidence files over the API: upload, list, download, names, types, TLP, H2 re-sharing."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from app.core.database.urls import asyncpg_dsn
from app.exchange.files import serving
from app.models.enums import Role
from tests.audit_trail import details, entries
from tests.clients import Dashboard, http, submit_request
from tests.conftest import RunningServer
from tests.factories import Party, World

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"


async def upload(
    client: httpx.AsyncClient,
    party: Party,
    request_id: str,
    data: bytes,
    *,
    name: str = "evidence.bin",
    content_type: str | None = None,
    **params: Any,
) -> httpx.Response:
    headers = {**party.headers, **({"Content-Type": content_type} if content_type else {})}
    return await client.post(
        f"/v1/requests/{request_id}/files",
        params={"name": name, **params},
        content=data,
        headers=headers,
    )


async def uploaded(
    client: httpx.AsyncClient, party: Party, request_id: str, data: bytes = b"log line\n", **kw: Any
) -> dict[str, Any]:
    response = await upload(client, party, request_id, data, **kw)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def assign_to_desk(client: httpx.AsyncClient, world: World, request_id: str) -> None:
    """Hand the request to DE's contact point: its agency then holds it (TLP:RED readers)."""
    response = await client.post(
        f"/v1/requests/{request_id}/assign",
        json={"principal_id": str(world.desk("DE").principal_id)},
        headers=world.gs.headers,
    )
    assert response.status_code == 200, response.text


async def test_round_trip_keeps_every_byte_and_audits_both_ways(
    server: RunningServer, world: World, database: Any
) -> None:
    data = random.Random(7).randbytes(3 * 1024 * 1024 + 17)
    sha256 = hashlib.sha256(data).hexdigest()
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        response = await upload(
            client, world.unit("FR"), request["id"], data, name="dump.bin", content_type="x/y"
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert response.headers["location"] == f"/v1/files/{created['id']}"
        assert created["sha256"] == sha256
        assert created["size"] == len(data)
        assert created["content_type"] == "application/octet-stream"
        assert created["declared_type"] == "x/y"
        assert created["side"] == "requester"
        assert created["agency_id"] == str(world.unit("FR").agency_id)
        assert created["handling_code"] == "AMBER"  # the request's
        assert created["onward_use"] == ["H2"]

        got = await client.get(
            f"/v1/files/{created['id']}/content", headers=world.desk("DE").headers
        )
        meta = await client.get(f"/v1/files/{created['id']}", headers=world.desk("DE").headers)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-length"] == str(len(data))
    assert got.headers["content-type"] == "application/octet-stream"
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert got.headers["repr-digest"] == f"sha-256=:{digest}:"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert meta.json() == created

    [stored] = await entries(database, "file.uploaded", object_id=created["id"])
    assert stored.content_hash == sha256
    assert stored.actor_principal_id == world.unit("FR").principal_id
    assert details(stored) == {
        "request_id": request["id"],
        "size": len(data),
        "content_type": "application/octet-stream",
        "handling_code": "AMBER",
    }
    [read] = await entries(database, "file.downloaded", object_id=created["id"])
    assert read.content_hash == sha256
    assert read.actor_principal_id == world.desk("DE").principal_id
    assert "dump.bin" not in str(stored.details) + str(read.details)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\report.pdf", "report.pdf"),
        ("re\x07port\x1b[31m.txt", "report[31m.txt"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),  # a right-to-left override removed
        ("CON", "CON_"),
        ("a:b|c?.log", "abc.log"),
        ("é" * 200 + ".pdf", "é" * 125 + ".pdf"),  # 255 bytes of UTF-8, the extension kept
    ],
)
async def test_names_are_made_safe(
    server: RunningServer, world: World, given: str, kept: str
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        created = await uploaded(client, world.unit("FR"), request["id"], name=given)
        listed = await client.get(
            f"/v1/requests/{request['id']}/files", headers=world.desk("DE").headers
        )
    assert created["name"] == kept
    assert len(kept.encode()) <= 255
    assert listed.json()["items"][0]["name"] == kept


async def test_unicode_name_travels_in_rfc_5987_with_an_ascii_fallback(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        created = await uploaded(
            client, world.unit("FR"), request["id"], name="Über 100% l'été.pdf"
        )
        got = await client.get(f"/v1/files/{created['id']}/content", headers=world.gs.headers)
    assert got.headers["content-disposition"] == (
        'attachment; filename="Uber 100_ l\'ete.pdf"; '
        "filename*=UTF-8''%C3%9Cber%20100%25%20l%27%C3%A9t%C3%A9.pdf"
    )


async def test_name_and_note_may_travel_in_headers_kept_out_of_access_logs(
    server: RunningServer, world: World
) -> None:
    unit = world.unit("FR")
    headers = {
        **unit.headers,
        "Content-Disposition": "attachment; "
        "filename*=UTF-8''%C3%9Cber%20100%25%20l%27%C3%A9t%C3%A9.pdf",
        "Relay247-Handling-Note": "Nicht%20an%20die%20Presse%2C%20f%C3%BCr%20niemanden",
    }
    async with http(server.http) as client:
        request = await submit_request(client, unit)
        path = f"/v1/requests/{request['id']}/files"
        created = await client.post(
            path, params={"onward_use": ["H2", "H3"]}, content=b"x", headers=headers
        )
        both = await client.post(path, params={"name": "a.pdf"}, content=b"x", headers=headers)
        neither = await client.post(path, content=b"x", headers=unit.headers)
        nameless = await client.post(
            path, content=b"x", headers={**unit.headers, "Content-Disposition": "attachment"}
        )
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "Über 100% l'été.pdf"
    assert created.json()["handling_note"] == "Nicht an die Presse, für niemanden"
    assert [r.status_code for r in (both, neither, nameless)] == [422, 422, 422]
    assert [r.json()["errors"][0]["field"] for r in (both, neither, nameless)] == [
        "name",
        "name",
        "Content-Disposition",
    ]


@pytest.mark.parametrize("name", ["../..", "/", "\x01\x02", "...", "  "])
async def test_a_name_with_nothing_left_is_refused(
    server: RunningServer, world: World, name: str
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        response = await upload(client, world.unit("FR"), request["id"], b"x", name=name)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "name"


@pytest.mark.parametrize(
    ("data", "declared", "sniffed"),
    [
        (PNG, "text/plain", "image/png"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "image/png", "application/pdf"),
        ("Grüße aus Lyon\n".encode(), "application/pdf", "text/plain"),
        (b"text\x00with a NUL", "text/plain", "application/octet-stream"),
        (b"\x80\x81 not UTF-8", None, "application/octet-stream"),
        (b"", None, "text/plain"),
    ],
)
async def test_the_type_is_sniffed_from_the_bytes_never_taken_from_the_client(
    server: RunningServer, world: World, data: bytes, declared: str | None, sniffed: str
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        created = await uploaded(
            client, world.unit("FR"), request["id"], data, content_type=declared
        )
        got = await client.get(f"/v1/files/{created['id']}/content", headers=world.gs.headers)
    assert created["content_type"] == sniffed
    assert created["declared_type"] == declared
    assert got.headers["content-type"].split(";")[0] == sniffed
    assert got.content == data


ACTIVE = {
    "page.html": b"<!doctype html><html><script>alert(document.domain)</script></html>",
    "drawing.svg": (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
        b"<script>alert(document.domain)</script></svg>"
    ),
    # Any XML with XHTML in it is a page that runs its script.
    "page.xml": (
        b'<?xml version="1.0"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body>'
        b"<script>alert(document.domain)</script></body></html>"
    ),
}

SNIFFED = {"page.html": "text/html", "drawing.svg": "image/svg+xml", "page.xml": "application/xml"}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "TEXT/HTML; charset=utf-8",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
        "application/xml",
        "text/xsl",
        "text/javascript",
        "application/javascript",
        "application/x-shockwave-flash",
        "multipart/x-mixed-replace",
        "application/x-something-new",
    ],
)
def test_only_passive_types_keep_their_type_on_the_wire(content_type: str) -> None:
    assert serving.served_type(content_type) == "application/octet-stream"
    assert serving.served_type("text/plain; charset=utf-8") == "text/plain; charset=utf-8"
    assert serving.served_type("image/png") == "image/png"


async def upload_active(client: httpx.AsyncClient, world: World, name: str) -> dict[str, Any]:
    request = await submit_request(client, world.unit("FR"))
    # What a browser would take it for: the declared type is kept, never served.
    declared = {"html": "text/html", "svg": "image/svg+xml"}.get(name.rsplit(".")[-1])
    return await uploaded(
        client, world.unit("FR"), request["id"], ACTIVE[name], name=name, content_type=declared
    )


@pytest.mark.parametrize("name", sorted(ACTIVE))
async def test_a_file_a_browser_could_run_goes_out_as_inert_bytes(
    server: RunningServer, world: World, name: str
) -> None:
    async with http(server.http) as client:
        created = await upload_active(client, world, name)
        got = await client.get(f"/v1/files/{created['id']}/content", headers=world.gs.headers)
    assert got.content == ACTIVE[name]
    # The API still says what it is; only the wire is opaque.
    assert created["content_type"] == SNIFFED[name]
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")


async def test_every_download_is_sandboxed_and_a_passive_type_keeps_its_own(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        created = await uploaded(client, world.unit("FR"), request["id"], PNG, name="shot.png")
        got = await client.get(f"/v1/files/{created['id']}/content", headers=world.gs.headers)
    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-security-policy"] == "sandbox; default-src 'none'"


async def test_both_sides_hear_of_a_file_without_its_name(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        desk = await Dashboard.open(server.ws, world.desk("DE"))
        sender = await Dashboard.open(server.ws, world.unit("FR"))
        try:
            created = await uploaded(client, world.unit("FR"), request["id"], name="secret.txt")
            heard = [await d.receive_event("file.added") for d in (desk, sender)]
        finally:
            await desk.close()
            await sender.close()
    for frame in heard:
        assert frame["data"]["file_id"] == created["id"]
        assert frame["data"]["request_id"] == request["id"]
        assert frame["data"]["sha256"] == created["sha256"]
        assert frame["data"]["side"] == "requester"
        assert "secret" not in str(frame)


async def test_list_pages_oldest_first_and_shows_auditors_metadata_only(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        ids = [
            (await uploaded(client, world.desk("DE"), request["id"], f"{n}".encode()))["id"]
            for n in range(5)
        ]
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = await client.get(
                f"/v1/requests/{request['id']}/files", params=params, headers=world.auditor.headers
            )
            assert page.status_code == 200, page.text
            for item in page.json()["items"]:
                seen.append(item["id"])
                assert item["name"] is None  # an auditor reads no content, names included
                assert len(item["sha256"]) == 64
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        forged = await client.get(
            f"/v1/requests/{request['id']}/files",
            params={"cursor": "bm90IGEgY3Vyc29y"},
            headers=world.gs.headers,
        )
        as_reader = await client.get(
            f"/v1/requests/{request['id']}/files", headers=world.unit("FR").headers
        )
        other = await client.get(
            f"/v1/requests/{request['id']}/files", headers=world.unit("JP").headers
        )
        auditor_download = await client.get(
            f"/v1/files/{ids[0]}/content", headers=world.auditor.headers
        )
    assert seen == ids
    assert forged.status_code == 422
    assert [item["name"] for item in as_reader.json()["items"]] == ["evidence.bin"] * 5
    assert other.status_code == 404
    assert auditor_download.status_code == 403


async def test_tlp_decides_who_downloads(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        await assign_to_desk(client, world, request["id"])
        red = await uploaded(client, world.unit("FR"), request["id"], handling_code="RED")
        strict = await uploaded(
            client, world.unit("FR"), request["id"], handling_code="AMBER+STRICT"
        )

        async def status(file: dict[str, Any], party: Party) -> int:
            response = await client.get(f"/v1/files/{file['id']}/content", headers=party.headers)
            return response.status_code

        red_answers = {
            who: await status(red, party)
            for who, party in {
                "FR unit": world.unit("FR"),
                "DE holding desk": world.desk("DE"),
                "GS": world.gs,
                "DE NCB": world("DE", Role.NCB),
                "auditor": world.auditor,
                "JP unit": world.unit("JP"),
            }.items()
        }
        strict_answers = {
            "DE desk": await status(strict, world.desk("DE")),
            "DE NCB": await status(strict, world("DE", Role.NCB)),
        }
        refused = await client.get(
            f"/v1/files/{red['id']}/content", headers=world("DE", Role.NCB).headers
        )
    assert red_answers == {
        "FR unit": 200,
        "DE holding desk": 200,
        "GS": 200,
        "DE NCB": 403,
        "auditor": 403,
        "JP unit": 404,
    }
    assert strict_answers == {"DE desk": 200, "DE NCB": 403}
    assert "TLP:RED" in refused.json()["detail"]


async def test_a_file_never_looser_than_its_request(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"), handling_code="AMBER")
        looser = await upload(client, world.unit("FR"), request["id"], b"x", handling_code="GREEN")
        dropped = await upload(client, world.unit("FR"), request["id"], b"x", onward_use=["H1"])
        no_note = await upload(
            client, world.unit("FR"), request["id"], b"x", onward_use=["H2", "H3"]
        )
        noted = await upload(
            client,
            world.unit("FR"),
            request["id"],
            b"x",
            onward_use=["H2", "H3"],
            handling_note="not to the press",
        )
        bad_code = await upload(client, world.unit("FR"), request["id"], b"x", handling_code="PINK")
    assert looser.status_code == 422
    assert looser.json()["errors"][0]["field"] == "handling_code"
    assert dropped.status_code == 422
    assert dropped.json()["errors"][0]["field"] == "onward_use"
    assert no_note.status_code == 422
    assert no_note.json()["errors"][0]["field"] == "handling_note"
    assert noted.status_code == 201
    assert noted.json()["onward_use"] == ["H2", "H3"]
    assert bad_code.status_code == 422


async def test_who_may_upload_where(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        by_auditor = await upload(client, world.auditor, request["id"], b"x")
        by_other_country = await upload(client, world.unit("JP"), request["id"], b"x")
        nul = await upload(client, world.unit("FR"), request["id"], b"x", name="a\x00b.txt")
        by_ncb = await upload(client, world("DE", Role.NCB), request["id"], b"x")
        by_gs = await upload(client, world.gs, request["id"], b"x")

        await db.execute(
            "UPDATE requests SET status = 'cancelled', closed_at = now() WHERE id = $1",
            uuid.UUID(request["id"]),
        )
        final = await upload(client, world.unit("FR"), request["id"], b"x")
    assert by_auditor.status_code == 403
    assert by_other_country.status_code == 404
    assert nul.status_code == 422
    assert "NUL" in nul.json()["detail"]
    assert (by_ncb.status_code, by_ncb.json()["side"]) == (201, "target")
    assert (by_gs.status_code, by_gs.json()["side"]) == (201, "target")
    assert final.status_code == 409
    assert final.json()["current_status"] == "cancelled"
    assert await db.fetchval("SELECT count(*) FROM files") == 2


async def _message(db: asyncpg.Connection, request_id: str, party: Party) -> uuid.UUID:
    """A message row as the thread will write it (the thread is another module's)."""
    message_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO messages (id, request_id, seq, side, author_principal_id, author_agency_id, "
        "text, text_hash, handling_code, onward_use) "
        "VALUES ($1, $2, 1, 'requester', $3, $4, 'see attached', $5, 'AMBER', '{H2}')",
        message_id,
        uuid.UUID(request_id),
        party.principal_id,
        party.agency_id,
        "0" * 64,
    )
    return message_id


async def test_a_file_joins_a_message_of_its_own_request_only(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        other = await submit_request(client, world.unit("FR"))
        own_message = await _message(db, request["id"], world.unit("FR"))
        foreign_message = await _message(db, other["id"], world.unit("FR"))
        joined = await upload(
            client, world.unit("FR"), request["id"], b"x", message_id=str(own_message)
        )
        foreign = await upload(
            client, world.unit("FR"), request["id"], b"x", message_id=str(foreign_message)
        )
    assert joined.status_code == 201
    assert joined.json()["message_id"] == str(own_message)
    assert foreign.status_code == 422
    assert foreign.json()["errors"][0]["field"] == "message_id"


async def test_a_purged_file_is_gone(
    server: RunningServer, world: World, db: asyncpg.Connection
) -> None:
    async with http(server.http) as client:
        request = await submit_request(client, world.unit("FR"))
        created = await uploaded(client, world.unit("FR"), request["id"])
        await db.execute(
            "UPDATE files SET storage_key = NULL, purged_at = now() WHERE id = $1",
            uuid.UUID(created["id"]),
        )
        got = await client.get(
            f"/v1/files/{created['id']}/content", headers=world.unit("FR").headers
        )
        meta = await client.get(f"/v1/files/{created['id']}", headers=world.unit("FR").headers)
    assert got.status_code == 410
    assert meta.json()["purged_at"] is not None
    assert meta.json()["name"] is None


# --- re-sharing -----------------------------------------------------------------------------


async def share(
    client: httpx.AsyncClient, party: Party, file_id: str, request_id: str
) -> httpx.Response:
    return await client.post(
        f"/v1/files/{file_id}/shares", json={"request_id": request_id}, headers=party.headers
    )


async def test_an_h2_file_is_re_shared_only_with_its_owners_permission(
    server: RunningServer, world: World, db: asyncpg.Connection, database: Any
) -> None:
    data = random.Random(2).randbytes(2 * 1024 * 1024 + 5)
    async with http(server.http) as client:
        origin = await submit_request(client, world.unit("FR"), onward_use=["H2"])
        # Japan asks Germany too; the German desk would pass France's file on to Japan.
        destination = await submit_request(
            client, world.unit("JP"), handling_code="GREEN", onward_use=["H1"]
        )
        original = await uploaded(client, world.unit("FR"), origin["id"], data, name="mail.eml")

        refused = await share(client, world.desk("DE"), original["id"], destination["id"])
        not_owner = await client.post(
            f"/v1/files/{original['id']}/share-permissions",
            json={"request_id": destination["id"]},
            headers=world.desk("DE").headers,
        )
        permitted = await client.post(
            f"/v1/files/{original['id']}/share-permissions",
            json={"request_id": destination["id"], "reason": "same actor, case 2026/118"},
            headers=world.unit("FR").headers,
        )
        again = await client.post(
            f"/v1/files/{original['id']}/share-permissions",
            json={"request_id": destination["id"]},
            headers=world.unit("FR").headers,
        )
        shared = await share(client, world.desk("DE"), original["id"], destination["id"])
        assert shared.status_code == 201, shared.text
        copy = shared.json()
        got = await client.get(f"/v1/files/{copy['id']}/content", headers=world.unit("JP").headers)
        elsewhere = await share(client, world.desk("DE"), original["id"], origin["id"])
    assert refused.status_code == 403
    assert refused.json()["reason"] == "h2_permission_required"
    assert not_owner.status_code == 403
    assert permitted.status_code == 201, permitted.text
    assert permitted.json()["agency_id"] == str(world.unit("FR").agency_id)
    assert again.status_code == 200
    assert again.json()["id"] == permitted.json()["id"]

    assert copy["request_id"] == destination["id"]
    assert copy["shared_from"] == original["id"]
    assert copy["agency_id"] == original["agency_id"]  # the owner stays France's unit
    assert copy["uploaded_by"] == str(world.desk("DE").principal_id)
    assert copy["side"] == "target"
    assert copy["handling_code"] == "AMBER"  # the stricter of AMBER and GREEN
    assert copy["onward_use"] == ["H1", "H2"]
    assert copy["sha256"] == original["sha256"]
    assert got.content == data
    assert elsewhere.status_code == 422  # it is in that request already

    keys = await db.fetch(
        "SELECT DISTINCT storage_key FROM files WHERE id = ANY($1::uuid[])",
        [uuid.UUID(original["id"]), uuid.UUID(copy["id"])],
    )
    assert len(keys) == 1  # the same bytes, not a copy
    assert await db.fetchval("SELECT count(*) FROM blob_chunks") == 3
    [audited] = await entries(database, "file.shared", object_id=copy["id"])
    assert audited.content_hash == original["sha256"]
    [permission] = await entries(database, "file.share_permitted", object_id=original["id"])
    assert details(permission)["request_id"] == destination["id"]


async def test_the_owner_re_shares_its_own_h2_file_freely(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        first = await submit_request(client, world.unit("FR"))
        second = await submit_request(client, world.unit("FR"), "JP")
        original = await uploaded(client, world.unit("FR"), first["id"])
        shared = await share(client, world.unit("FR"), original["id"], second["id"])
    assert shared.status_code == 201, shared.text
    assert shared.json()["side"] == "requester"


async def test_red_is_re_shared_by_its_owner_only(server: RunningServer, world: World) -> None:
    async with http(server.http) as client:
        origin = await submit_request(client, world.unit("FR"), onward_use=[])
        await assign_to_desk(client, world, origin["id"])
        destination = await submit_request(client, world.unit("JP"), onward_use=[])
        red = await uploaded(client, world.unit("FR"), origin["id"], handling_code="RED")
        by_holder = await share(client, world.desk("DE"), red["id"], destination["id"])
        by_ncb = await share(client, world("DE", Role.NCB), red["id"], destination["id"])
        own_next = await submit_request(client, world.unit("FR"), "JP", onward_use=[])
        by_owner = await share(client, world.unit("FR"), red["id"], own_next["id"])
    assert by_holder.status_code == 403
    assert by_holder.json()["reason"] == "red_owner_only"
    assert by_ncb.status_code == 403  # it may not even read it
    assert by_owner.status_code == 201
    assert by_owner.json()["handling_code"] == "RED"


async def test_re_sharing_into_a_request_out_of_sight_is_not_found(
    server: RunningServer, world: World
) -> None:
    async with http(server.http) as client:
        origin = await submit_request(client, world.unit("FR"))
        theirs = await submit_request(client, world.unit("JP"))  # JP to DE: France sees nothing
        original = await uploaded(client, world.unit("FR"), origin["id"])
        response = await share(client, world.unit("FR"), original["id"], theirs["id"])
        unknown = await share(client, world.unit("FR"), original["id"], str(uuid.uuid4()))
        by_auditor = await share(client, world.auditor, original["id"], theirs["id"])
    assert response.status_code == 404
    assert unknown.status_code == 404
    assert by_auditor.status_code == 403


async def test_a_re_share_racing_the_purge_of_its_original_never_points_at_deleted_bytes(
    server: RunningServer, world: World, db: asyncpg.Connection, database_url: str
) -> None:
    """The purge holds the bytes' key while it decides they are unused and deletes them; a
    re-share arriving meanwhile waits for the key, then finds the original purged (410)."""
    async with http(server.http) as client:
        origin = await submit_request(client, world.unit("FR"), onward_use=[])
        destination = await submit_request(client, world.unit("FR"), "JP", onward_use=[])
        original = await uploaded(client, world.unit("FR"), origin["id"])
        key = await db.fetchval(
            "SELECT storage_key FROM files WHERE id = $1", uuid.UUID(original["id"])
        )
        purger = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            async with purger.transaction():
                # What the purge does, as far as the bytes go, in its order.
                await purger.execute(
                    "SELECT pg_advisory_xact_lock($1, hashtext($2))", 0x52323437, key
                )
                racing = asyncio.create_task(
                    share(client, world.unit("FR"), original["id"], destination["id"])
                )
                while not await db.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                ):
                    assert not racing.done(), (await racing).text
                    await asyncio.sleep(0.02)
                await purger.execute(
                    "UPDATE files SET storage_key = NULL, name = NULL, purged_at = now() "
                    "WHERE id = $1",
                    uuid.UUID(original["id"]),
                )
                await purger.execute("DELETE FROM blob_chunks WHERE storage_key = $1", key)
        finally:
            await purger.close()
        refused = await racing
    assert refused.status_code == 410, refused.text
    assert await db.fetchval("SELECT count(*) FROM files WHERE shared_from IS NOT NULL") == 0
