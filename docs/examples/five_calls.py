"""REST in five calls, the README's curl session in Python (httpx): France asks Germany to
preserve data, Germany's desk finds it, reads it, acknowledges it and starts work.

    python docs/examples/five_calls.py                # against `make run`'s demo
    RELAY247_URL=https://relay.example FR_UNIT=r247_... DE_DESK=r247_... python five_calls.py

Without FR_UNIT and DE_DESK the tokens are read from the demo's
.relay247/demo-credentials.json. tests/test_readme_examples.py runs this file against a real
server, so what the README shows keeps working.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import httpx


def demo_tokens() -> tuple[str, str]:
    credentials = json.loads(Path(".relay247/demo-credentials.json").read_text())
    countries = credentials["countries"]
    return countries["FR"]["unit"]["token"], countries["DE"]["contact_points"][0]["token"]


def main() -> None:
    base_url = os.environ.get("RELAY247_URL", "http://127.0.0.1:8247")
    if "FR_UNIT" in os.environ and "DE_DESK" in os.environ:
        fr_unit, de_desk = os.environ["FR_UNIT"], os.environ["DE_DESK"]
    else:
        fr_unit, de_desk = demo_tokens()
    france = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {fr_unit}"})
    germany = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {de_desk}"})

    # 1. France asks Germany to preserve data. Resending with the same Idempotency-Key after
    #    a timeout or a 503 is safe: the first answer comes back, nothing is sent twice.
    submitted = france.post(
        "/v1/requests",
        headers={"Idempotency-Key": f"FR-case-{uuid.uuid4()}"},
        json={
            "type": "preservation",
            "priority": "urgent",
            "target_country": "DE",
            "headline": "Ransomware negotiation: preserve a mailbox",
            "subject": "Preserve the negotiator mailbox",
            "details": "Used in the ransom negotiation of 20 Nov; preserve 90 days.",
            "identifiers": [
                {"kind": "email", "value": "negotiator@example.org"},
                {"kind": "ip", "value": "203.0.113.7"},
            ],
            "legal_basis": "Budapest Convention Art. 29",
            "handling_code": "AMBER",
            "onward_use": ["H2"],
        },
    )
    submitted.raise_for_status()
    request_id = submitted.json()["id"]
    print("1 submitted", request_id, submitted.json()["status"])

    # 2. Germany's desk lists its urgent requests, newest first (follow `next_cursor` for more).
    page = germany.get("/v1/requests", params={"priority": "urgent", "limit": 20})
    page.raise_for_status()
    assert request_id in [item["id"] for item in page.json()["items"]]
    print("2 listed", len(page.json()["items"]), "urgent requests")

    # 3. It reads the request: an audited read of its content. The ETag is its version.
    read = germany.get(f"/v1/requests/{request_id}")
    read.raise_for_status()
    print("3 read", read.json()["content"]["subject"], "ETag", read.headers["ETag"])

    # 4. A human at the desk acknowledges it; France is told at once.
    acked = germany.post(f"/v1/requests/{request_id}/ack")
    acked.raise_for_status()
    print("4 acknowledged at", acked.json()["acknowledged_at"])

    # 5. It starts work on the version it last read (the ack made a new one): if a colleague
    #    acted meanwhile the answer is 412, not a silent overwrite. The answer's ETag is the
    #    version after it.
    etag = germany.get(f"/v1/requests/{request_id}").headers["ETag"]
    started = germany.post(f"/v1/requests/{request_id}/actions/start", headers={"If-Match": etag})
    started.raise_for_status()
    print("5 started:", started.json()["status"], "ETag", started.headers["ETag"])


if __name__ == "__main__":
    try:
        main()
    except httpx.HTTPStatusError as error:
        sys.exit(f"{error.request.method} {error.request.url}: {error.response.text}")
