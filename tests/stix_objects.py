"""STIX 2.1 objects of the shapes partners send, for the app/stix tests and bench."""

from __future__ import annotations

import uuid
from typing import Any

GREEN_TLP2 = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
IDENTITY_ID = "identity--6a2c1b5e-5a47-4f4f-9a43-1b1f0d4c2e11"


def indicator(pattern: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2025-03-14T10:40:00.000Z",
        "modified": "2025-03-14T10:40:00.000Z",
        "created_by_ref": IDENTITY_ID,
        "name": "Phishing landing page",
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": "2025-03-14T10:40:00Z",
        "object_marking_refs": [GREEN_TLP2],
        **extra,
    }


def sco(object_type: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": object_type,
        "spec_version": "2.1",
        "id": f"{object_type}--{uuid.uuid5(uuid.NAMESPACE_URL, repr(properties))}",
        **properties,
    }


def common_objects() -> list[dict[str, Any]]:
    """One of each shape the fast path must decide by itself."""
    return [
        indicator("[ipv4-addr:value = '203.0.113.7']"),
        indicator("[ipv6-addr:value = '2001:db8::17']"),
        indicator("[domain-name:value = 'tax-refund.example.net']"),
        indicator("[url:value = 'https://tax-refund.example.net/Login?session=42']"),
        indicator("[email-addr:value = 'refunds@tax-office.example.org']"),
        indicator("[email-message:from_ref.value = 'refunds@tax-office.example.org']"),
        indicator("[file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f']"),
        indicator(
            "[file:hashes.'SHA-256' = "
            "'275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f']"
        ),
        indicator(
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND "
            "network-traffic:dst_ref.value = '198.51.100.23']"
        ),
        indicator("[ipv4-addr:value = '203.0.113.7'] OR [domain-name:value = 'evil.example']"),
        indicator(
            "[user-account:account_login = 'o\\'brien']",
            valid_until="2026-03-14T10:40:00Z",
            confidence=80,
            labels=["phishing"],
            description="Seen in a campaign against tax payers",
            kill_chain_phases=[{"kill_chain_name": "misp-category", "phase_name": "Network"}],
        ),
        sco("ipv4-addr", value="203.0.113.7"),
        sco("ipv6-addr", value="2001:db8::17"),
        sco("domain-name", value="tax-refund.example.net"),
        sco("url", value="https://tax-refund.example.net/Login?session=42"),
        sco("email-addr", value="refunds@tax-office.example.org"),
        sco("file", hashes={"MD5": "44d88612fea8a8f36de82e1278abb02f"}, name="invoice.pdf.exe"),
        sco(
            "file",
            hashes={"SHA-256": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
            object_marking_refs=[GREEN_TLP2],
        ),
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": IDENTITY_ID,
            "created": "2025-01-01T00:00:00.000Z",
            "modified": "2025-01-01T00:00:00.000Z",
            "name": "Partner SOC",
            "identity_class": "organization",
        },
    ]
