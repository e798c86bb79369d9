"""Content negotiation (TAXII 2.1 sections 1.6.8 and 3.2).

Every TAXII response is ``application/taxii+json;version=2.1``. A request is served when its
Accept names that media type (without a version, TAXII's "latest version", which is 2.1 here)
or a wildcard that covers it (``*/*``, ``application/*``, as RFC 9110 reads them), with a
non-zero quality; otherwise 406. TAXII clients MUST send Accept (taxii2-client sends exactly
``application/taxii+json;version=2.1``), so a request without one is a 406 as well. A POST's
Content-Type must be the TAXII media type (version 2.1, or none), else 415.
"""

from __future__ import annotations

from app.taxii.errors import MEDIA_TYPE, TaxiiError

TAXII_TYPE = "application/taxii+json"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
VERSION = "2.1"


def _parse(item: str) -> tuple[str, dict[str, str]]:
    parts = [part.strip() for part in item.split(";")]
    params: dict[str, str] = {}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return parts[0].lower(), params


def _quality(params: dict[str, str]) -> float:
    try:
        return float(params.get("q", "1"))
    except ValueError:
        return 0.0


def acceptable(accept: str | None) -> bool:
    """Whether an Accept header lets us answer with TAXII 2.1's media type."""
    if not accept:
        return False
    for item in accept.split(","):
        media, params = _parse(item)
        if _quality(params) <= 0:
            continue
        if media in ("*/*", "application/*"):
            return True
        if media == TAXII_TYPE and params.get("version", VERSION) == VERSION:
            return True
    return False


def require_acceptable(accept: str | None) -> None:
    if not acceptable(accept):
        raise TaxiiError(
            406,
            "Not Acceptable",
            f"this server answers {MEDIA_TYPE} only: send it in the Accept header",
        )


def require_taxii_body(content_type: str | None) -> None:
    media, params = _parse(content_type or "")
    if media != TAXII_TYPE or params.get("version", VERSION) != VERSION:
        raise TaxiiError(
            415,
            "Unsupported Media Type",
            f"a TAXII POST's Content-Type must be {MEDIA_TYPE}",
        )
