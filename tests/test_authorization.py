"""Who may do what, on every endpoint, for every role, in its own country and in another.

The table must name every route of the API: a new endpoint that is not added here fails
test_every_endpoint_is_in_the_table. The objects acted on belong to Germany (DE): a request
France's unit sent to Germany, a German contact point, a German unit's agreement... so each
role is tried on its own country's objects and on another's. Every call gets objects of its
own (made by the global desk over REST), so one caller's change never decides another's.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute

from app.main import create_app
from app.models.enums import Role
from tests.clients import http
from tests.conftest import RunningServer
from tests.factories import Party, World, request_body
from tests.four_eyes import hold
from tests.shared_scene import TERMS, SharedDataScene, misp_event
from tests.waiting import eventually

# Who is asking, in a world where FR's unit has sent a request to DE (and DE's partner
# submits data to its inbox).
WHO: dict[str, Callable[[World], Party]] = {
    "sender unit (FR)": lambda w: w.unit("FR"),
    "other unit (JP)": lambda w: w.unit("JP"),
    "target country's unit (DE)": lambda w: w.unit("DE"),
    "target desk (DE)": lambda w: w.desk("DE"),
    "target NCB (DE)": lambda w: w("DE", Role.NCB),
    "sender's desk (FR)": lambda w: w.desk("FR"),
    "other desk (JP)": lambda w: w.desk("JP"),
    "other NCB (JP)": lambda w: w("JP", Role.NCB),
    "sender's NCB (FR)": lambda w: w("FR", Role.NCB),
    "global desk": lambda w: w.gs,
    "auditor": lambda w: w.auditor,
    "admin": lambda w: w.admin,
    "partner (DE)": lambda w: w.partner("DE"),
    "other partner (FR)": lambda w: w.partner("FR"),
}
EVERYONE = dict.fromkeys(WHO, 200)
DE_STAFF = ("target desk (DE)", "target NCB (DE)")
PARTNERS = ("partner (DE)", "other partner (FR)")
# A private partner reads nothing of the network's directory (READ_DIRECTORY, READ_PEOPLE).
DIRECTORY_READERS = {**EVERYONE, **dict.fromkeys(PARTNERS, 403)}
NOT_ALERTED = dict.fromkeys(PARTNERS, 403)


class Scene(SharedDataScene):
    """Makes the objects a call acts on, as the global desk (or the owner), over the public
    API."""

    _codes = ("Q" + letter for letter in string.ascii_uppercase)  # ISO's user-assigned QA-QZ

    def __init__(self, client: httpx.AsyncClient, world: World) -> None:
        self.client = client
        self.world = world
        self._serial = itertools.count()

    async def _post(self, path: str, body: dict[str, Any], as_: Party | None = None) -> Any:
        party = as_ or self.world.gs
        response = await self.client.post(path, json=body, headers=party.headers)
        assert response.status_code in (200, 201), f"setup {path}: {response.text}"
        return response.json()

    def serial(self) -> int:
        return next(self._serial)

    def new_country_code(self) -> str:
        return next(self._codes)

    async def request(self) -> str:
        sent = await self._post("/v1/requests", request_body("DE"), as_=self.world.unit("FR"))
        return str(sent["id"])

    async def approval(self) -> str:
        """An emergency disclosure France's unit sent to DE, held for four-eyes approval by
        France's policy (which the global desk sets)."""
        await self.client.patch(
            "/v1/countries/FR", json={"four_eyes": True}, headers=self.world.gs.headers
        )
        return str((await hold(self.client, self.world.unit("FR")))["id"])

    async def file(self, *, onward_use: tuple[str, ...] = ("H2",)) -> str:
        """A file France's unit added to a fresh request it sent to DE."""
        body = request_body("DE", onward_use=list(onward_use))
        request_id = (await self._post("/v1/requests", body, as_=self.world.unit("FR")))["id"]
        response = await self.client.post(
            f"/v1/requests/{request_id}/files",
            params={"name": "evidence.txt"},
            content=b"log line\n",
            headers=self.world.unit("FR").headers,
        )
        assert response.status_code == 201, f"setup upload: {response.text}"
        return str(response.json()["id"])

    async def contact_point(self) -> str:
        body = {
            "agency_id": str(self.world.desk("DE").agency_id),
            "role": "contact_point",
            "name": f"DE officer {next(self._serial)}",
        }
        return str((await self._post("/v1/principals", body))["id"])

    async def contact_method(self) -> str:
        """A method of a fresh DE contact point, added by the global desk: "<person>/
        contact-methods/<method>"."""
        principal = await self.contact_point()
        made = await self._post(
            f"/v1/principals/{principal}/contact-methods",
            {"kind": "email", "address": "officer@police.example"},
        )
        return f"{principal}/contact-methods/{made['id']}"

    async def contact_method_id(self) -> str:
        return (await self.contact_method()).rsplit("/", 1)[1]

    async def token_prefix(self) -> str:
        principal = await self.contact_point()
        created = await self._post(f"/v1/principals/{principal}/tokens", {"label": "t"})
        return str(created["prefix"])

    async def agreement(self) -> str:
        body = {"agency_id": str(self.world.unit("DE").agency_id), "priorities": ["urgent"]}
        return str((await self._post("/v1/agreements", body))["id"])

    async def rotation(self) -> str:
        body = {
            "layer": "backup",
            "name": f"backup {next(self._serial)}",
            "participants": [str(self.world.desk("DE").principal_id)],
            "starts_local": "2026-12-01T08:00",
            "cadence": "daily",
        }
        return str((await self._post("/v1/countries/DE/roster/rotations", body))["id"])

    async def override(self) -> str:
        start = 10 + next(self._serial)
        body = {
            "kind": "leave",
            "principal_id": str(self.world.desk("DE").principal_id),
            "starts_at": f"2027-01-{start:02d}T00:00:00Z",
            "ends_at": f"2027-01-{start:02d}T12:00:00Z",
        }
        return str((await self._post("/v1/countries/DE/roster/overrides", body))["id"])

    async def drill(self) -> str:
        """A drill of Germany's desk, scheduled by Germany's NCB (which sees it before it is
        sent: its own agency scheduled it)."""
        made = await self._post("/v1/drills", _drill_body(), as_=self.world("DE", Role.NCB))
        return str(made["items"][0]["id"])

    async def report(self) -> str:
        """A report of Germany, made on demand by Germany's NCB."""
        made = await self._post("/v1/reports", _report_body(), as_=self.world("DE", Role.NCB))
        return str(made["id"])

    async def webhook_endpoint(self) -> str:
        """An endpoint of Germany's NCB's agency (made by that NCB: agencies manage their own)."""
        body = {"url": "https://cases.invalid/hooks"}
        made = await self._post("/v1/webhook-endpoints", body, as_=self.world("DE", Role.NCB))
        return str(made["id"])

    async def webhook_message(self) -> str:
        """``{endpoint}/messages/{message}``: a message to a fresh endpoint of Germany's NCB,
        its first attempt over (the name does not resolve), so that none is in flight."""
        endpoint = await self.webhook_endpoint()
        await self.request()
        ncb = self.world("DE", Role.NCB)
        attempted: list[str] = []

        async def first_attempt_over() -> bool:
            answer = await self.client.get(
                f"/v1/webhook-endpoints/{endpoint}/messages", headers=ncb.headers
            )
            items = answer.json()["items"]
            if items and items[0]["attempts"]:
                attempted.append(items[0]["id"])
            return bool(attempted)

        await eventually(first_attempt_over, within=10)
        return f"{endpoint}/messages/{attempted[0]}"


Make = Callable[[Scene, Party], Awaitable[tuple[str, Any]]]


def at(path: str, body: Any = None) -> Make:
    """A call on a fixed path."""

    async def make(scene: Scene, caller: Party) -> tuple[str, Any]:
        return path, body

    return make


def on(object_: Callable[[Scene], Awaitable[str]], path: str, body: Any = None) -> Make:
    """A call on a fresh object, whose id replaces ``{id}`` in the path."""

    async def make(scene: Scene, caller: Party) -> tuple[str, Any]:
        return path.replace("{id}", await object_(scene)), body

    return make


@dataclass(frozen=True)
class Rule:
    make: Make
    allowed: dict[str, int]
    refused: int  # the answer to everyone not in ``allowed``
    # Lists are filtered: ``find`` makes (or names) an object before the call, and ``listed``
    # says who finds it (by ``key``) in the list; who gets 200 per ``allowed`` and
    # ``refused`` is asked to find it, who gets another answer (a role refused) gets that.
    find: Callable[[Scene], Awaitable[str]] | None = None
    listed: frozenset[str] = field(default_factory=frozenset)
    key: str = "id"


async def _country_body(scene: Scene, caller: Party) -> tuple[str, Any]:
    return "/v1/countries", {"code": scene.new_country_code(), "name": "Test country"}


async def _submission(scene: Scene, caller: Party) -> tuple[str, Any]:
    return "/v1/requests", request_body("DE" if caller.country != "DE" else "FR")


def _drill_body() -> dict[str, Any]:
    return {"countries": ["DE"], "at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}


def _report_body() -> dict[str, Any]:
    today = datetime.now(UTC).date()
    return {"scope": "DE", "from": str(today - timedelta(days=7)), "to": str(today)}


async def _report_generate(scene: Scene, caller: Party) -> tuple[str, Any]:
    return "/v1/reports", _report_body()


async def _drill_schedule(scene: Scene, caller: Party) -> tuple[str, Any]:
    return "/v1/drills", _drill_body()


async def _agency(scene: Scene, caller: Party) -> tuple[str, Any]:
    return "/v1/agencies", {"country": "DE", "kind": "unit", "name": f"Unit {id(caller)}"}


async def _principal(scene: Scene, caller: Party) -> tuple[str, Any]:
    body = {
        "agency_id": str(scene.world.desk("DE").agency_id),
        "role": "contact_point",
        "name": f"DE officer by {id(caller)}",
    }
    return "/v1/principals", body


async def _agreement(scene: Scene, caller: Party) -> tuple[str, Any]:
    return "/v1/agreements", {"agency_id": str(scene.world.unit("DE").agency_id)}


async def _rotation(scene: Scene, caller: Party) -> tuple[str, Any]:
    return "/v1/countries/DE/roster/rotations", {
        "layer": "backup",
        "name": "night backup",
        "participants": [str(scene.world.desk("DE").principal_id)],
        "starts_local": "2026-12-01T20:00",
        "cadence": "daily",
    }


async def _override(scene: Scene, caller: Party) -> tuple[str, Any]:
    day = 1 + scene.serial() % 28
    return "/v1/countries/DE/roster/overrides", {
        "kind": "cover",
        "layer": "primary",
        "principal_id": str(scene.world.desk("DE").principal_id),
        "starts_at": f"2027-02-{day:02d}T00:00:00Z",
        "ends_at": f"2027-02-{day:02d}T01:00:00Z",
    }


async def _assignment(scene: Scene, caller: Party) -> tuple[str, Any]:
    request_id = await scene.request()
    return f"/v1/requests/{request_id}/assign", {
        "principal_id": str(scene.world.desk("DE").principal_id)
    }


async def _held_request(scene: Scene, caller: Party) -> tuple[str, Any]:
    """A request under a legal hold (set by the global desk), for the call that lifts it."""
    path = f"/v1/requests/{await scene.request()}/legal-hold"
    held = await scene.client.put(path, json=HOLD, headers=scene.world.gs.headers)
    assert held.status_code == 200, f"setup {path}: {held.text}"
    return path, None


async def _share(scene: Scene, caller: Party) -> tuple[str, Any]:
    """A file without H2 and another FR-to-DE request to re-share it into."""
    file_id = await scene.file(onward_use=())
    destination = await scene._post(
        "/v1/requests", request_body("DE", onward_use=[]), as_=scene.world.unit("FR")
    )
    return f"/v1/files/{file_id}/shares", {"request_id": destination["id"]}


async def _share_permission(scene: Scene, caller: Party) -> tuple[str, Any]:
    file_id = await scene.file()
    destination = await scene.request()
    return f"/v1/files/{file_id}/share-permissions", {"request_id": destination}


async def _webhook_endpoint(scene: Scene, caller: Party) -> tuple[str, Any]:
    return "/v1/webhook-endpoints", {"url": f"https://cases-{id(caller)}.invalid/hooks"}


async def _share_body(scene: Scene, caller: Party) -> tuple[str, Any]:
    return "/v1/shared-data/collections", {"title": f"Share {scene.serial()}", "audience": ["DE"]}


async def _misp_event(scene: Scene, caller: Party) -> tuple[str, Any]:
    """A MISP event for a fresh share of Germany's unit read by the whole network."""
    return f"/v1/shared-data/misp-events?collection={await scene.network_share()}", misp_event()


async def _de_principal(scene: Scene) -> str:
    return str(scene.world.desk("DE").principal_id)


async def _de_unit_agency(scene: Scene) -> str:
    return str(scene.world.unit("DE").agency_id)


POLICY = {
    "ack_steps": [
        {
            "priority": p,
            "steps": [
                {"target": "on_duty_primary", "ack_timeout_seconds": 60},
                {"target": "global_desk", "ack_timeout_seconds": 60},
            ],
        }
        for p in ("emergency", "urgent", "routine")
    ],
    "response_times": [{"respond_within_hours": 72}],
}
HOLD = {"reason": "Court order 2026/118: keep until the trial"}
SENDER_NCB = "sender's NCB (FR)"
# Who sees a request FR sent to DE: its sides, the global desk, and two who only watch it
# (metadata): the auditor, and the NCB of the sending country (which may hold it).
SEE_THE_REQUEST = ("sender unit (FR)", *DE_STAFF, "global desk", "auditor", SENDER_NCB)
WATCH_ONLY = {"auditor": 403, SENDER_NCB: 403}
SEES_BUT_MAY_NOT_HOLD = dict.fromkeys(("sender unit (FR)", *DE_STAFF, "auditor"), 403)
RANGE = "?from=2026-12-01T00:00:00Z&to=2026-12-08T00:00:00Z"
MANAGERS_OF_DE = {"target NCB (DE)": 200, "global desk": 200, "admin": 200}
ROSTER_READERS = dict.fromkeys((*DE_STAFF, "global desk", "admin"), 200)
ROSTER_WRITERS = {"target NCB (DE)": 201, "global desk": 201}
OWN_ROSTER_READERS = {
    who: 200 for who in WHO if "desk" in who or "NCB" in who or who in ("global desk", "admin")
}
SEES_DE_PEOPLE = frozenset({*DE_STAFF, "global desk", "admin"})
SEES_ANY_AGENCY = frozenset(WHO) - frozenset(PARTNERS)
# Who may make webhook endpoints (for its own agency): units, NCBs and the global desk.
WEBHOOK_MANAGERS = (
    "sender unit (FR)",
    "other unit (JP)",
    "target country's unit (DE)",
    "target NCB (DE)",
    "other NCB (JP)",
    "sender's NCB (FR)",
    "global desk",
)
DE_NCB_ONLY = {"target NCB (DE)": 200}
# Shared data (docs/shared-data.md, app/sharing/visibility.py): member countries' units, desks
# and NCBs read the gateway and the shares naming their country; auditors and admins read no
# shared data (403); a partner its own inbox; what one may not read is 404.
UNITS = ("sender unit (FR)", "other unit (JP)", "target country's unit (DE)")
DESKS = ("target desk (DE)", "sender's desk (FR)", "other desk (JP)")
NCBS = ("target NCB (DE)", "other NCB (JP)", SENDER_NCB)
MEMBERS = (*UNITS, *DESKS, *NCBS)
NO_SHARED_DATA = {"auditor": 403, "admin": 403}
# A share of Germany's unit read by Germany: that unit, Germany's desk and NCB, the global desk.
READS_THE_DE_SHARE = ("target country's unit (DE)", *DE_STAFF, "global desk")
# Who submits no data reads no submission (a submitter its own agency's, the global desk all).
SUBMITS_NONE = dict.fromkeys((*DESKS, "auditor", "admin"), 403)
TRIAGES = {"global desk": 200}
PARTNER_TERMS_READERS = ("partner (DE)", "global desk", "admin")

# Readiness drills: the global desk any desk's, an NCB its own country's; nobody else.
DRILL_READERS = {**dict.fromkeys(NCBS, 200), "global desk": 200}
OTHER_NCBS_MISS = {"other NCB (JP)": 404, SENDER_NCB: 404}
# Four-eyes (docs/four-eyes.md): a held request is seen by its sending agency and its NCB
# only; the NCB decides it, its own sender may not (403), its sending agency cancels it.
APPROVAL_READERS = {"sender unit (FR)": 200, SENDER_NCB: 200}

TABLE: dict[tuple[str, str], Rule] = {
    # --- cyber analytical reports (a report of DE) -----------------------------------------
    ("POST", "/v1/reports"): Rule(
        _report_generate, {"target NCB (DE)": 201, "global desk": 201}, 403
    ),
    ("GET", "/v1/reports"): Rule(
        at("/v1/reports?limit=200"),
        DRILL_READERS,
        403,
        find=Scene.report,
        listed=frozenset({"target NCB (DE)", "global desk"}),
    ),
    **{
        ("GET", f"/v1/reports/{{report_id}}{part}"): Rule(
            on(Scene.report, f"/v1/reports/{{id}}{part}"),
            {"target NCB (DE)": 200, "global desk": 200, **OTHER_NCBS_MISS},
            403,
        )
        for part in ("", "/pdf", "/csv", "/manifest")
    },
    # --- readiness drills (a drill of DE's desk) ------------------------------------------
    ("POST", "/v1/drills"): Rule(
        _drill_schedule, {"target NCB (DE)": 201, "global desk": 201}, 403
    ),
    ("GET", "/v1/drills"): Rule(
        at("/v1/drills?limit=200"),
        DRILL_READERS,
        403,
        find=Scene.drill,
        listed=frozenset({"target NCB (DE)", "global desk"}),
    ),
    ("GET", "/v1/drills/results"): Rule(at("/v1/drills/results"), DRILL_READERS, 403),
    ("GET", "/v1/drills/{drill_id}"): Rule(
        on(Scene.drill, "/v1/drills/{id}"),
        {"target NCB (DE)": 200, "global desk": 200, **OTHER_NCBS_MISS},
        403,
    ),
    ("DELETE", "/v1/drills/{drill_id}"): Rule(
        on(Scene.drill, "/v1/drills/{id}"),
        {"target NCB (DE)": 204, "global desk": 204, **OTHER_NCBS_MISS},
        403,
    ),
    # --- four-eyes --------------------------------------------------------------------------
    ("GET", "/v1/approvals"): Rule(
        at("/v1/approvals?limit=200"),
        {**dict.fromkeys(UNITS, 200), **dict.fromkeys(NCBS, 200)},
        403,
        find=Scene.approval,
        listed=frozenset({"sender unit (FR)", SENDER_NCB}),
    ),
    ("GET", "/v1/approvals/{approval_id}"): Rule(
        on(Scene.approval, "/v1/approvals/{id}"), APPROVAL_READERS, 404
    ),
    ("POST", "/v1/approvals/{approval_id}/approve"): Rule(
        on(Scene.approval, "/v1/approvals/{id}/approve"),
        {"sender unit (FR)": 403, SENDER_NCB: 200},
        404,
    ),
    ("POST", "/v1/approvals/{approval_id}/refuse"): Rule(
        on(Scene.approval, "/v1/approvals/{id}/refuse", {"reason": "Wrong provider"}),
        {"sender unit (FR)": 403, SENDER_NCB: 200},
        404,
    ),
    ("POST", "/v1/approvals/{approval_id}/cancel"): Rule(
        on(Scene.approval, "/v1/approvals/{id}/cancel"),
        {"sender unit (FR)": 200, SENDER_NCB: 403},
        404,
    ),
    # --- requests ---------------------------------------------------------------------------
    ("POST", "/v1/requests"): Rule(
        _submission,
        {"sender unit (FR)": 201, "other unit (JP)": 201, "target country's unit (DE)": 201},
        403,
    ),
    ("GET", "/v1/requests/{request_id}"): Rule(
        on(Scene.request, "/v1/requests/{id}"),
        dict.fromkeys(SEE_THE_REQUEST, 200),
        404,
    ),
    ("POST", "/v1/requests/{request_id}/ack"): Rule(
        on(Scene.request, "/v1/requests/{id}/ack"),
        {**dict.fromkeys((*DE_STAFF, "global desk"), 200), "sender unit (FR)": 403, **WATCH_ONLY},
        404,
    ),
    ("POST", "/v1/requests/{request_id}/assign"): Rule(
        _assignment,
        {**dict.fromkeys((*DE_STAFF, "global desk"), 200), "sender unit (FR)": 403, **WATCH_ONLY},
        404,
    ),
    # The thread: both sides write; whoever sees the request reads it (texts by TLP code).
    ("POST", "/v1/requests/{request_id}/messages"): Rule(
        on(Scene.request, "/v1/requests/{id}/messages", {"text": "Any news?"}),
        {**dict.fromkeys(("sender unit (FR)", *DE_STAFF, "global desk"), 201), **WATCH_ONLY},
        404,
    ),
    ("GET", "/v1/requests/{request_id}/messages"): Rule(
        on(Scene.request, "/v1/requests/{id}/messages"),
        dict.fromkeys(SEE_THE_REQUEST, 200),
        404,
    ),
    # A requester's action: the target side (and the global desk, which acts for it) is refused.
    ("POST", "/v1/requests/{request_id}/actions/{action}"): Rule(
        on(Scene.request, "/v1/requests/{id}/actions/cancel", {"reason": "Solved locally"}),
        {
            "sender unit (FR)": 200,
            **dict.fromkeys((*DE_STAFF, "global desk"), 403),
            **WATCH_ONLY,
        },
        404,
    ),
    ("GET", "/v1/requests/{request_id}/history"): Rule(
        on(Scene.request, "/v1/requests/{id}/history"),
        dict.fromkeys(SEE_THE_REQUEST, 200),
        404,
    ),
    # Who was alerted: whoever sees the request (names only of whom the reader may see).
    ("GET", "/v1/requests/{request_id}/alerts"): Rule(
        on(Scene.request, "/v1/requests/{id}/alerts"),
        dict.fromkeys(SEE_THE_REQUEST, 200),
        404,
    ),
    # The escalation chain: metadata, for whoever sees the request (auditors included).
    ("GET", "/v1/requests/{request_id}/escalation-chain"): Rule(
        on(Scene.request, "/v1/requests/{id}/escalation-chain"),
        dict.fromkeys(SEE_THE_REQUEST, 200),
        404,
    ),
    ("GET", "/v1/requests/{request_id}/receipts"): Rule(
        # The requester side and who oversees: DE, the target, sees the request, gets none.
        on(Scene.request, "/v1/requests/{id}/receipts"),
        {
            **dict.fromkeys(("sender unit (FR)", SENDER_NCB, "global desk", "auditor"), 200),
            **dict.fromkeys(DE_STAFF, 403),
        },
        404,
    ),
    ("PUT", "/v1/requests/{request_id}/legal-hold"): Rule(
        on(Scene.request, "/v1/requests/{id}/legal-hold", HOLD),
        {**SEES_BUT_MAY_NOT_HOLD, "global desk": 200, SENDER_NCB: 200},
        404,
    ),
    ("DELETE", "/v1/requests/{request_id}/legal-hold"): Rule(
        _held_request, {**SEES_BUT_MAY_NOT_HOLD, "global desk": 200, SENDER_NCB: 200}, 404
    ),
    ("GET", "/v1/requests"): Rule(
        at("/v1/requests?limit=200"),
        EVERYONE,
        0,
        find=Scene.request,
        listed=frozenset(SEE_THE_REQUEST),
    ),
    # Response analytics count what the caller sees (the visibility tests: test_analytics.py);
    # whoever sees no request at all is refused.
    ("GET", "/v1/analytics/responses"): Rule(
        at("/v1/analytics/responses"), {**EVERYONE, "admin": 403, **dict.fromkeys(PARTNERS, 403)}, 0
    ),
    # --- evidence files ---------------------------------------------------------------------
    ("POST", "/v1/requests/{request_id}/files"): Rule(
        # An empty body: a file of no bytes, which is a file all the same.
        on(Scene.request, "/v1/requests/{id}/files?name=evidence.txt"),
        {**dict.fromkeys(("sender unit (FR)", *DE_STAFF, "global desk"), 201), **WATCH_ONLY},
        404,
    ),
    ("GET", "/v1/requests/{request_id}/files"): Rule(
        on(Scene.request, "/v1/requests/{id}/files"),
        dict.fromkeys(SEE_THE_REQUEST, 200),
        404,
    ),
    ("GET", "/v1/files/{file_id}"): Rule(
        on(Scene.file, "/v1/files/{id}"),
        dict.fromkeys(SEE_THE_REQUEST, 200),
        404,
    ),
    ("GET", "/v1/files/{file_id}/content"): Rule(
        on(Scene.file, "/v1/files/{id}/content"),
        {**dict.fromkeys(("sender unit (FR)", *DE_STAFF, "global desk"), 200), **WATCH_ONLY},
        404,
    ),
    ("POST", "/v1/files/{file_id}/shares"): Rule(
        _share,
        {**dict.fromkeys(("sender unit (FR)", *DE_STAFF, "global desk"), 201), **WATCH_ONLY},
        404,
    ),
    ("POST", "/v1/files/{file_id}/share-permissions"): Rule(
        # The owner agency (France's unit) and the global desk; Germany sees, may not permit.
        _share_permission,
        {
            "sender unit (FR)": 201,
            "global desk": 201,
            **dict.fromkeys(DE_STAFF, 403),
            **WATCH_ONLY,
        },
        404,
    ),
    # --- who am I, countries, escalation policies -------------------------------------------
    # Who am I: everyone, a partner too (READ_PEOPLE: itself), which also lets it manage its
    # own tokens (tests/test_tokens_api.py).
    ("GET", "/v1/me"): Rule(at("/v1/me"), EVERYONE, 0),
    ("GET", "/v1/push/vapid-public-key"): Rule(at("/v1/push/vapid-public-key"), EVERYONE, 0),
    ("GET", "/v1/audit/public-keys"): Rule(at("/v1/audit/public-keys"), EVERYONE, 0),
    # The trail is the auditors' alone (national auditors: tests/test_audit_entries.py).
    ("GET", "/v1/audit/entries"): Rule(at("/v1/audit/entries"), {"auditor": 200}, 403),
    ("GET", "/v1/audit/export"): Rule(at("/v1/audit/export"), {"auditor": 200}, 403),
    ("GET", "/v1/countries"): Rule(at("/v1/countries"), DIRECTORY_READERS, 0),
    ("GET", "/v1/countries/{cc}"): Rule(at("/v1/countries/DE"), DIRECTORY_READERS, 0),
    ("POST", "/v1/countries"): Rule(_country_body, {"global desk": 201, "admin": 201}, 403),
    ("PATCH", "/v1/countries/{cc}"): Rule(
        at("/v1/countries/DE", {"notes": "night line: use the desk phone"}),
        {"target NCB (DE)": 200, "global desk": 200},
        403,
    ),
    ("GET", "/v1/escalation-policy"): Rule(at("/v1/escalation-policy"), DIRECTORY_READERS, 0),
    ("PUT", "/v1/escalation-policy"): Rule(
        at("/v1/escalation-policy", POLICY), {"global desk": 200}, 403
    ),
    ("GET", "/v1/countries/{cc}/escalation-policy"): Rule(
        at("/v1/countries/DE/escalation-policy"), DIRECTORY_READERS, 0
    ),
    ("PUT", "/v1/countries/{cc}/escalation-policy"): Rule(
        at("/v1/countries/DE/escalation-policy", POLICY),
        {"target NCB (DE)": 200, "global desk": 200},
        403,
    ),
    ("DELETE", "/v1/countries/{cc}/escalation-policy"): Rule(
        at("/v1/countries/DE/escalation-policy"),
        {"target NCB (DE)": 200, "global desk": 200},
        403,
    ),
    # --- agencies, principals, tokens -------------------------------------------------------
    ("GET", "/v1/agencies"): Rule(
        at("/v1/agencies?country=DE&limit=200"),
        EVERYONE,
        0,
        find=_de_unit_agency,
        listed=frozenset(WHO) - frozenset(PARTNERS),  # filtered by READ_DIRECTORY
    ),
    ("GET", "/v1/agencies/{agency_id}"): Rule(
        on(_de_unit_agency, "/v1/agencies/{id}"), dict.fromkeys(SEES_ANY_AGENCY, 200), 404
    ),
    ("POST", "/v1/agencies"): Rule(
        _agency, {"target NCB (DE)": 201, "global desk": 201, "admin": 201}, 403
    ),
    ("GET", "/v1/principals"): Rule(
        at("/v1/principals?country=DE&limit=200"),
        EVERYONE,
        0,
        find=_de_principal,
        listed=SEES_DE_PEOPLE,
    ),
    ("GET", "/v1/principals/{principal_id}"): Rule(
        on(Scene.contact_point, "/v1/principals/{id}"),
        dict.fromkeys(SEES_DE_PEOPLE, 200),
        404,
    ),
    ("POST", "/v1/principals"): Rule(
        _principal, {"target NCB (DE)": 201, "global desk": 201, "admin": 201}, 403
    ),
    ("PATCH", "/v1/principals/{principal_id}"): Rule(
        on(Scene.contact_point, "/v1/principals/{id}", {"phone": "+49 30 1234567"}),
        {**MANAGERS_OF_DE, "target desk (DE)": 403},
        404,
    ),
    ("POST", "/v1/principals/{principal_id}/disable"): Rule(
        on(Scene.contact_point, "/v1/principals/{id}/disable"),
        {**MANAGERS_OF_DE, "target desk (DE)": 403},
        404,
    ),
    ("POST", "/v1/principals/{principal_id}/enable"): Rule(
        on(Scene.contact_point, "/v1/principals/{id}/enable"),
        {**MANAGERS_OF_DE, "target desk (DE)": 403},
        404,
    ),
    ("GET", "/v1/principals/{principal_id}/tokens"): Rule(
        on(Scene.contact_point, "/v1/principals/{id}/tokens"),
        {**MANAGERS_OF_DE, "target desk (DE)": 403},
        404,
    ),
    ("POST", "/v1/principals/{principal_id}/tokens"): Rule(
        on(Scene.contact_point, "/v1/principals/{id}/tokens", {"label": "spare"}),
        {"target NCB (DE)": 201, "global desk": 201, "admin": 201, "target desk (DE)": 403},
        404,
    ),
    ("POST", "/v1/tokens/{prefix}/revoke"): Rule(
        on(Scene.token_prefix, "/v1/tokens/{id}/revoke"),
        {**MANAGERS_OF_DE, "target desk (DE)": 403},
        404,
    ),
    ("POST", "/v1/tokens/{prefix}/rotate"): Rule(
        on(Scene.token_prefix, "/v1/tokens/{id}/rotate", {"overlap_seconds": 60}),
        {"target NCB (DE)": 201, "global desk": 201, "admin": 201, "target desk (DE)": 403},
        404,
    ),
    # --- contact methods --------------------------------------------------------------------
    # A partner is alerted of nothing (no MANAGE_CONTACT_METHODS), and told so.
    ("GET", "/v1/me/contact-methods"): Rule(
        at("/v1/me/contact-methods"), {**EVERYONE, **NOT_ALERTED}, 0
    ),
    ("POST", "/v1/me/contact-methods"): Rule(
        at("/v1/me/contact-methods", {"kind": "email", "address": "me@police.example"}),
        {**dict.fromkeys(WHO, 201), **NOT_ALERTED},
        0,
    ),
    # Under /me, another person's method is nobody's: not found, whoever manages them.
    ("DELETE", "/v1/me/contact-methods/{method_id}"): Rule(
        on(Scene.contact_method_id, "/v1/me/contact-methods/{id}"), NOT_ALERTED, 404
    ),
    ("POST", "/v1/me/contact-methods/{method_id}/verify"): Rule(
        on(Scene.contact_method_id, "/v1/me/contact-methods/{id}/verify", {"code": "AAAA-AAAA"}),
        NOT_ALERTED,
        404,
    ),
    ("POST", "/v1/me/contact-methods/{method_id}/resend-verification"): Rule(
        on(Scene.contact_method_id, "/v1/me/contact-methods/{id}/resend-verification"),
        NOT_ALERTED,
        404,
    ),
    # Their own calendar feed: whoever reads its own country's roster.
    ("GET", "/v1/me/calendar-feed"): Rule(at("/v1/me/calendar-feed"), OWN_ROSTER_READERS, 403),
    ("POST", "/v1/me/calendar-feed"): Rule(
        at("/v1/me/calendar-feed"), dict.fromkeys(OWN_ROSTER_READERS, 201), 403
    ),
    ("DELETE", "/v1/me/calendar-feed"): Rule(
        at("/v1/me/calendar-feed"), dict.fromkeys(OWN_ROSTER_READERS, 404), 403
    ),
    ("GET", "/v1/principals/{principal_id}/contact-methods"): Rule(
        on(Scene.contact_point, "/v1/principals/{id}/contact-methods"),
        {**MANAGERS_OF_DE, "target desk (DE)": 403},
        404,
    ),
    ("POST", "/v1/principals/{principal_id}/contact-methods"): Rule(
        on(
            Scene.contact_point,
            "/v1/principals/{id}/contact-methods",
            {"kind": "email", "address": "officer@police.example"},
        ),
        {"target NCB (DE)": 201, "global desk": 201, "admin": 201, "target desk (DE)": 403},
        404,
    ),
    ("DELETE", "/v1/principals/{principal_id}/contact-methods/{method_id}"): Rule(
        on(Scene.contact_method, "/v1/principals/{id}"),
        {"target NCB (DE)": 204, "global desk": 204, "admin": 204, "target desk (DE)": 403},
        404,
    ),
    # A manager passes, and then the code is wrong (422) or the test too recent (429).
    ("POST", "/v1/principals/{principal_id}/contact-methods/{method_id}/verify"): Rule(
        on(Scene.contact_method, "/v1/principals/{id}/verify", {"code": "AAAA-AAAA"}),
        {"target NCB (DE)": 422, "global desk": 422, "admin": 422, "target desk (DE)": 403},
        404,
    ),
    (
        "POST",
        "/v1/principals/{principal_id}/contact-methods/{method_id}/resend-verification",
    ): Rule(
        on(Scene.contact_method, "/v1/principals/{id}/resend-verification"),
        {"target NCB (DE)": 429, "global desk": 429, "admin": 429, "target desk (DE)": 403},
        404,
    ),
    # --- access agreements ------------------------------------------------------------------
    ("GET", "/v1/agreements"): Rule(
        at("/v1/agreements?limit=200"),
        EVERYONE,
        0,
        find=Scene.agreement,
        listed=frozenset(
            {"target country's unit (DE)", "target NCB (DE)", "global desk", "auditor"}
        ),
    ),
    ("GET", "/v1/agreements/{agreement_id}"): Rule(
        on(Scene.agreement, "/v1/agreements/{id}"),
        dict.fromkeys(
            ("target country's unit (DE)", "target NCB (DE)", "global desk", "auditor"), 200
        ),
        404,
    ),
    ("POST", "/v1/agreements"): Rule(
        _agreement,
        # Another country's NCB names an agency it does not manage: the field is wrong (422).
        {"target NCB (DE)": 201, "global desk": 201, "other NCB (JP)": 422, SENDER_NCB: 422},
        403,
    ),
    ("PATCH", "/v1/agreements/{agreement_id}"): Rule(
        on(Scene.agreement, "/v1/agreements/{id}", {"conditions": "Only for case 2026/118"}),
        {
            "target NCB (DE)": 200,
            "global desk": 200,
            "target country's unit (DE)": 403,
            "auditor": 403,
        },
        404,
    ),
    ("POST", "/v1/agreements/{agreement_id}/end"): Rule(
        on(Scene.agreement, "/v1/agreements/{id}/end"),
        {
            "target NCB (DE)": 200,
            "global desk": 200,
            "target country's unit (DE)": 403,
            "auditor": 403,
        },
        404,
    ),
    # --- rosters ----------------------------------------------------------------------------
    ("GET", "/v1/countries/{cc}/on-duty"): Rule(
        at("/v1/countries/DE/on-duty"), ROSTER_READERS, 403
    ),
    ("GET", "/v1/countries/{cc}/roster/rotations"): Rule(
        at("/v1/countries/DE/roster/rotations"), ROSTER_READERS, 403
    ),
    ("POST", "/v1/countries/{cc}/roster/rotations"): Rule(_rotation, ROSTER_WRITERS, 403),
    ("POST", "/v1/countries/{cc}/roster/rotations/{rotation_id}/end"): Rule(
        on(Scene.rotation, "/v1/countries/DE/roster/rotations/{id}/end", {}),
        {"target NCB (DE)": 200, "global desk": 200},
        403,
    ),
    ("GET", "/v1/countries/{cc}/roster/overrides"): Rule(
        at("/v1/countries/DE/roster/overrides"), ROSTER_READERS, 403
    ),
    ("POST", "/v1/countries/{cc}/roster/overrides"): Rule(_override, ROSTER_WRITERS, 403),
    ("DELETE", "/v1/countries/{cc}/roster/overrides/{override_id}"): Rule(
        on(Scene.override, "/v1/countries/DE/roster/overrides/{id}"),
        {"target NCB (DE)": 204, "global desk": 204},
        403,
    ),
    ("GET", "/v1/countries/{cc}/roster/shifts"): Rule(
        at("/v1/countries/DE/roster/shifts" + RANGE), ROSTER_READERS, 403
    ),
    ("GET", "/v1/countries/{cc}/roster/shifts.ics"): Rule(
        at("/v1/countries/DE/roster/shifts.ics" + RANGE), ROSTER_READERS, 403
    ),
    ("GET", "/v1/countries/{cc}/roster/gaps"): Rule(
        at("/v1/countries/DE/roster/gaps" + RANGE), ROSTER_READERS, 403
    ),
    # --- webhook endpoints: an agency's own, nobody else's (not its country's NCB) -----------
    ("POST", "/v1/webhook-endpoints"): Rule(
        _webhook_endpoint, dict.fromkeys(WEBHOOK_MANAGERS, 201), 403
    ),
    ("GET", "/v1/webhook-endpoints"): Rule(
        at("/v1/webhook-endpoints?limit=200"),
        EVERYONE,
        0,
        find=Scene.webhook_endpoint,
        listed=frozenset({"target NCB (DE)"}),
    ),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}"): Rule(
        on(Scene.webhook_endpoint, "/v1/webhook-endpoints/{id}"), DE_NCB_ONLY, 404
    ),
    ("PATCH", "/v1/webhook-endpoints/{endpoint_id}"): Rule(
        on(Scene.webhook_endpoint, "/v1/webhook-endpoints/{id}", {"description": "cases"}),
        DE_NCB_ONLY,
        404,
    ),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id}"): Rule(
        on(Scene.webhook_endpoint, "/v1/webhook-endpoints/{id}"), {"target NCB (DE)": 204}, 404
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/rotate-secret"): Rule(
        on(Scene.webhook_endpoint, "/v1/webhook-endpoints/{id}/rotate-secret"),
        {"target NCB (DE)": 201},
        404,
    ),
    ("GET", "/v1/webhook-endpoints/{endpoint_id}/messages"): Rule(
        on(Scene.webhook_endpoint, "/v1/webhook-endpoints/{id}/messages"), DE_NCB_ONLY, 404
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/messages/{message_id}/resend"): Rule(
        on(Scene.webhook_message, "/v1/webhook-endpoints/{id}/resend"),
        {"target NCB (DE)": 202},
        404,
    ),
    ("POST", "/v1/webhook-endpoints/{endpoint_id}/recover"): Rule(
        on(
            Scene.webhook_endpoint,
            "/v1/webhook-endpoints/{id}/recover",
            {"since": "2026-01-01T00:00:00Z"},
        ),
        {"target NCB (DE)": 202},
        404,
    ),
    # --- shared data: shares, MISP, stored objects --------------------------------------------
    ("POST", "/v1/shared-data/collections"): Rule(
        _share_body, dict.fromkeys((*UNITS, *NCBS, "global desk"), 201), 403
    ),
    # Only the share's owner agency writes; who reads it but may not write is refused (403).
    ("POST", "/v1/shared-data/misp-events"): Rule(
        _misp_event,
        {
            **dict.fromkeys((*MEMBERS, "global desk"), 403),
            "target country's unit (DE)": 202,
        },
        404,
    ),
    # A search: the DE partner's quarantined object, found by that partner and the desk.
    ("GET", "/v1/shared-data/objects"): Rule(
        at("/v1/shared-data/objects?limit=200"),
        {**EVERYONE, **NO_SHARED_DATA},
        0,
        find=Scene.quarantined,
        listed=frozenset({"partner (DE)", "global desk"}),
        key="row_id",
    ),
    ("GET", "/v1/shared-data/objects/{row_id}"): Rule(
        on(Scene.shared, "/v1/shared-data/objects/{id}"),
        {**dict.fromkeys(READS_THE_DE_SHARE, 200), **NO_SHARED_DATA},
        404,
    ),
    # Feedback on the gateway's copy of a partner's object: member countries (which read the
    # gateway) report seen; partners, auditors and admins may not report at all.
    ("POST", "/v1/shared-data/objects/{row_id}/feedback"): Rule(
        on(Scene.accepted, "/v1/shared-data/objects/{id}/feedback", {"kind": "seen"}),
        dict.fromkeys((*MEMBERS, "global desk"), 201),
        403,
    ),
    ("PUT", "/v1/shared-data/objects/{row_id}/legal-hold"): Rule(
        on(Scene.shared, "/v1/shared-data/objects/{id}/legal-hold"), TRIAGES, 403
    ),
    ("DELETE", "/v1/shared-data/objects/{row_id}/legal-hold"): Rule(
        on(Scene.held, "/v1/shared-data/objects/{id}/legal-hold"), TRIAGES, 403
    ),
    # --- shared data: triage, and partners' submissions ---------------------------------------
    ("GET", "/v1/shared-data/quarantine"): Rule(
        at("/v1/shared-data/quarantine?limit=200"),
        TRIAGES,
        403,
        find=Scene.quarantined,
        listed=frozenset({"global desk"}),
        key="row_id",
    ),
    ("POST", "/v1/shared-data/objects/{row_id}/decision"): Rule(
        on(
            Scene.quarantined,
            "/v1/shared-data/objects/{id}/decision",
            {"decision": "accept", "note": "Corroborated"},
        ),
        TRIAGES,
        403,
    ),
    ("POST", "/v1/shared-data/submissions/{submission_id}/decision"): Rule(
        on(
            Scene.submission,
            "/v1/shared-data/submissions/{id}/decision",
            {"decision": "request_info", "note": "Where was it seen?"},
        ),
        TRIAGES,
        403,
    ),
    # A submitter lists its own agency's submissions (none of the DE partner's), the desk all.
    ("GET", "/v1/shared-data/submissions"): Rule(
        at("/v1/shared-data/submissions?limit=200"),
        {**EVERYONE, **SUBMITS_NONE},
        0,
        find=Scene.submission,
        listed=frozenset({"partner (DE)", "global desk"}),
    ),
    ("GET", "/v1/shared-data/submissions/{submission_id}"): Rule(
        on(Scene.submission, "/v1/shared-data/submissions/{id}"),
        {"partner (DE)": 200, "global desk": 200, **SUBMITS_NONE},
        404,
    ),
    ("GET", "/v1/shared-data/submissions/{submission_id}/objects"): Rule(
        on(Scene.submission, "/v1/shared-data/submissions/{id}/objects"),
        {"partner (DE)": 200, "global desk": 200, **SUBMITS_NONE},
        404,
    ),
    # --- partner agreements: a partner reads its own; the desk and admins all -----------------
    ("GET", "/v1/partner-agreements"): Rule(
        at("/v1/partner-agreements?limit=200"),
        dict.fromkeys((*PARTNERS, "global desk", "admin"), 200),
        403,
        find=Scene.de_partner_agency,
        listed=frozenset(PARTNER_TERMS_READERS),
        key="partner_agency_id",
    ),
    ("GET", "/v1/partner-agreements/{partner_agency_id}"): Rule(
        on(Scene.de_partner_agency, "/v1/partner-agreements/{id}"),
        {**dict.fromkeys(PARTNER_TERMS_READERS, 200), "other partner (FR)": 404},
        403,
    ),
    ("PUT", "/v1/partner-agreements/{partner_agency_id}"): Rule(
        on(Scene.partner_agency, "/v1/partner-agreements/{id}", TERMS),
        {"global desk": 201, "admin": 201},
        403,
    ),
    # --- matches: a share of Germany's unit (read by Germany) carries the request's address ---
    # Who reads the request's content gets 200, and finds the match if it reads the share too.
    ("GET", "/v1/requests/{request_id}/matches"): Rule(
        on(Scene.matched_request, "/v1/requests/{id}/matches?limit=200"),
        {**dict.fromkeys(("sender unit (FR)", *DE_STAFF, "global desk"), 200), **WATCH_ONLY},
        404,
        find=Scene.shared_request_address,
        listed=frozenset({*DE_STAFF, "global desk"}),
        key="object_row_id",
    ),
}
# Probes and the scrape endpoint: for the internal network, they show no request data.
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")}
# Authenticated by the one-time link in its path, not a token (tests/test_ack_links.py).
PUBLIC |= {("POST", "/v1/ack-links/{token}")}
# Authenticated by the link in its path (tests/test_calendar_feed.py).
PUBLIC |= {("GET", "/v1/calendar/{token}.ics")}
WEBSOCKETS = {"/v1/ws"}  # covered by test_realtime and test_routing: each principal's channels


def _walk(routes: list[BaseRoute]) -> list[BaseRoute]:
    """Every route, also those inside included routers."""
    found: list[BaseRoute] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found += _walk(inner.routes) if inner is not None else [route]
    return found


def test_every_endpoint_is_in_the_table() -> None:
    app = create_app("postgresql://unused/unused")
    routes = _walk(app.routes)
    endpoints = {
        (method, route.path)
        for route in routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods
        if method != "HEAD"
    }
    sockets = {route.path for route in routes if isinstance(route, APIWebSocketRoute)}
    assert endpoints - PUBLIC == set(TABLE)
    assert sockets == WEBSOCKETS


def _label(endpoint: tuple[str, str]) -> str:
    return f"{endpoint[0]} {endpoint[1]}"


@pytest.mark.parametrize("endpoint", list(TABLE), ids=_label)
async def test_access(server: RunningServer, world: World, endpoint: tuple[str, str]) -> None:
    """Every role, own and other country, on one endpoint: each gets exactly its answer."""
    rule = TABLE[endpoint]
    method = endpoint[0]
    wrong: dict[str, str] = {}
    async with http(server.http) as client:
        scene = Scene(client, world)
        for who, party_of in WHO.items():
            party = party_of(world)
            sought = await rule.find(scene) if rule.find is not None else None
            url, body = await rule.make(scene, party)
            response = await client.request(method, url, json=body, headers=party.headers)
            unauthenticated = await client.request(method, url, json=body)
            if unauthenticated.status_code != 401:
                wrong[who] = f"without a token: {unauthenticated.status_code}"
                continue
            expected = rule.allowed.get(who, rule.refused)
            if sought is not None and expected == 200:
                expected_listed = who in rule.listed
                listed = sought in _ids(response, rule.key)
                if response.status_code != 200 or listed != expected_listed:
                    wrong[who] = f"{response.status_code}, listed={listed}"
                continue
            if response.status_code != expected:
                wrong[who] = f"{response.status_code} (expected {expected}): {response.text[:160]}"
            elif expected >= 400 and (
                response.headers["content-type"] != "application/problem+json"
                or not response.json()["detail"]
            ):
                wrong[who] = "a refusal that is not a problem+json with a detail"
    assert not wrong, wrong


def _ids(response: httpx.Response, key: str) -> set[str]:
    if response.status_code != 200:
        return set()
    return {str(item[key]) for item in response.json()["items"]}


async def test_a_revoked_or_forged_token_is_refused(server: RunningServer, world: World) -> None:
    real = world.unit("FR").token
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    async with http(server.http) as client:
        response = await client.get("/v1/requests", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("path", ["/v1/requests", "/taxii2/api/collections/"])
async def test_two_authorization_headers_are_401_whichever_comes_first(
    server: RunningServer, world: World, path: str
) -> None:
    # A proxy that reads the last and a service that reads the first would act for two
    # different callers: neither guesses.
    unit, other = world.unit("FR"), world.unit("DE")
    sent = [
        ("Accept", "application/taxii+json;version=2.1"),
        ("Authorization", f"Bearer {unit.token}"),
        ("Authorization", f"Bearer {other.token}"),
    ]
    async with http(server.http) as client:
        response = await client.get(path, headers=sent)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
