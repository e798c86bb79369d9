"""Shared data for the authorization matrix (tests/test_authorization.py): objects on
Germany's side, made over the public API as their owners make them: the DE partner's
submissions to its inbox (TAXII), the global desk's acceptance of them into the gateway, a
share of Germany's unit (TAXII), and a request France sent to Germany whose identifiers match
a share's object."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

from tests.factories import Party, World, request_body
from tests.taxii_support import envelope, indicator
from tests.taxii_support import post as taxii_post

# In every request of the matrix (tests/factories.py request_body): a shared indicator of it
# is a match.
REQUEST_ADDRESS = "203.0.113.7"
TERMS = {
    "object_types": ["indicator", "ipv4-addr", "domain-name"],
    "daily_object_limit": 1000,
    "handling_ceiling": "AMBER",
    "unmarked": "default",
    "default_handling": "GREEN",
    "retention_days": 365,
    "valid_from": "2026-01-01T00:00:00Z",
    "valid_until": None,
}


def misp_event() -> dict[str, Any]:
    """A MISP event of one IP attribute, its own uuids each time."""
    return {
        "Event": {
            "uuid": str(uuid.uuid4()),
            "info": "Phishing campaign",
            "date": "2025-03-14",
            "timestamp": "1741949000",
            "Orgc": {"name": "CERT-DE", "uuid": str(uuid.uuid4())},
            "Tag": [{"name": "tlp:green"}],
            "Attribute": [
                {
                    "uuid": str(uuid.uuid4()),
                    "type": "ip-dst",
                    "category": "Network activity",
                    "value": "198.51.100.77",
                    "to_ids": True,
                    "timestamp": "1741949000",
                }
            ],
        }
    }


class SharedDataScene:
    """The shared-data half of the matrix's Scene: each method makes a fresh object."""

    client: httpx.AsyncClient
    world: World
    _addresses = (f"192.0.2.{n}" for n in itertools.cycle(range(1, 255)))

    async def _call(
        self, method: str, path: str, party: Party, body: Any = None, **params: Any
    ) -> Any:
        response = await self.client.request(
            method, path, json=body, params=params or None, headers=party.headers
        )
        assert response.status_code in (200, 201, 202), f"setup {path}: {response.text}"
        return response.json()

    async def _stored(self, party: Party, collection: str, address: str | None = None) -> str:
        """Posts one GREEN indicator to ``collection`` as ``party`` over TAXII; the status id
        (the submission's)."""
        obj = indicator(address or next(self._addresses))
        response = await taxii_post(self.client, party, collection, envelope(obj))
        assert response.status_code == 202, response.text
        status = response.json()
        assert status["success_count"] == 1, response.text
        return str(status["id"])

    async def de_partner_inbox(self) -> str:
        partner = self.world.partner("DE")
        agreement = await self._call("GET", f"/v1/partner-agreements/{partner.agency_id}", partner)
        return str(agreement["inbox_collection_id"])

    async def de_partner_agency(self) -> str:
        return str(self.world.partner("DE").agency_id)

    async def partner_agency(self) -> str:
        """A fresh partner agency in Germany, without an agreement (the global desk's)."""
        made = await self._call(
            "POST",
            "/v1/agencies",
            self.world.gs,
            {"country": "DE", "kind": "partner", "name": f"DE partner {uuid.uuid4()}"},
        )
        return str(made["id"])

    async def submission(self) -> str:
        """The DE partner's submission of one object, quarantined in its inbox."""
        return await self._stored(self.world.partner("DE"), await self.de_partner_inbox())

    async def quarantined(self) -> str:
        """The row of the DE partner's quarantined object."""
        submission = await self.submission()
        page = await self._call(
            "GET", f"/v1/shared-data/submissions/{submission}/objects", self.world.gs
        )
        return str(page["items"][0]["row_id"])

    async def accepted(self) -> str:
        """The gateway's copy of a DE partner's object the global desk accepted."""
        decided = await self._call(
            "POST",
            f"/v1/shared-data/objects/{await self.quarantined()}/decision",
            self.world.gs,
            {"decision": "accept", "note": "Corroborated"},
        )
        return str(decided["decided"][0]["gateway_row_id"])

    async def share(self, audience: list[str] | None = None) -> str:
        """A share of Germany's unit read by ``audience`` (None: the whole network)."""
        made = await self._call(
            "POST",
            "/v1/shared-data/collections",
            self.world.unit("DE"),
            {"title": "DE unit's share", "audience": audience},
        )
        return str(made["id"])

    async def network_share(self) -> str:
        return await self.share(None)

    async def shared(self, address: str | None = None) -> str:
        """The row of an object in a share of Germany's unit read by Germany alone."""
        unit = self.world.unit("DE")
        collection = await self.share(["DE"])
        await self._stored(unit, collection, address)
        page = await self._call(
            "GET", "/v1/shared-data/objects", unit, collection_id=collection, limit=1
        )
        return str(page["items"][0]["row_id"])

    async def shared_request_address(self) -> str:
        """As :meth:`shared`, of the address every request of the matrix names."""
        return await self.shared(REQUEST_ADDRESS)

    async def held(self) -> str:
        """A shared object (:meth:`shared`) under the global desk's legal hold."""
        row = await self.shared()
        await self._call("PUT", f"/v1/shared-data/objects/{row}/legal-hold", self.world.gs)
        return row

    async def matched_request(self) -> str:
        """A request France's unit sends to Germany naming :data:`REQUEST_ADDRESS`."""
        sent = await self._call("POST", "/v1/requests", self.world.unit("FR"), request_body("DE"))
        return str(sent["id"])
