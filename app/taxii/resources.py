"""The JSON of TAXII 2.1's resources (sections 4 and 5), from plain values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.taxii.filters import render_timestamp
from app.taxii.media import STIX_MEDIA_TYPE

API_ROOT_PATH = "/taxii2/api/"
DISCOVERY_PATH = "/taxii2/"
VERSIONS = ["application/taxii+json;version=2.1"]
DATE_ADDED_FIRST = "X-TAXII-Date-Added-First"
DATE_ADDED_LAST = "X-TAXII-Date-Added-Last"


def discovery(base_url: str) -> dict[str, Any]:
    root = base_url.rstrip("/") + API_ROOT_PATH
    return {
        "title": "relay247 TAXII 2.1 server",
        "description": "Cybercrime data shared through relay247: partners' inboxes, the "
        "gateway collection and member agencies' shares.",
        "default": root,
        "api_roots": [root],
    }


def api_root(max_content_length: int) -> dict[str, Any]:
    return {
        "title": "relay247",
        "description": "The one API root of relay247's shared cybercrime data.",
        "versions": VERSIONS,
        "max_content_length": max_content_length,
    }


def collection(
    collection_id: str, title: str, description: str | None, *, can_read: bool, can_write: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": collection_id,
        "title": title,
        "can_read": can_read,
        "can_write": can_write,
        "media_types": [STIX_MEDIA_TYPE],
    }
    if description:
        body["description"] = description
    return body


def page_headers(first: datetime | None, last: datetime | None) -> dict[str, str]:
    """X-TAXII-Date-Added-First and -Last of a page's items (none for an empty page)."""
    if first is None or last is None:
        return {}
    return {DATE_ADDED_FIRST: render_timestamp(first), DATE_ADDED_LAST: render_timestamp(last)}


def envelope(
    key: str, items: Sequence[Any], *, more: bool, next_token: str | None
) -> dict[str, Any]:
    """An envelope (``objects``) or a versions resource (``versions``); empty: ``{}`` with
    ``more: false``, as TAXII allows."""
    body: dict[str, Any] = {"more": more}
    if more and next_token is not None:
        body["next"] = next_token
    if items:
        body[key] = list(items)
    return body


def manifest_record(stix_id: str, date_added: datetime, version: datetime) -> dict[str, Any]:
    return {
        "id": stix_id,
        "date_added": render_timestamp(date_added),
        "version": render_timestamp(version),
        "media_type": STIX_MEDIA_TYPE,
    }


def status(
    status_id: str,
    *,
    request_timestamp: datetime,
    total: int,
    success: int,
    failures: Sequence[dict[str, Any]],
    pending: int = 0,
) -> dict[str, Any]:
    """A status resource (section 4.3.1). ``successes`` is left out (optional in TAXII): a
    bundle of ten thousand objects would list them all; ``failures`` says each refusal."""
    return {
        "id": status_id,
        "status": "complete" if pending == 0 else "pending",
        "request_timestamp": render_timestamp(request_timestamp),
        "total_count": total,
        "success_count": success,
        "failure_count": len(failures),
        "failures": list(failures),
        "pending_count": pending,
    }
