from __future__ import annotations


class BundleError(ValueError):
    """A payload that is not a readable STIX bundle or TAXII envelope: the whole submission is
    refused with this message (it names no object content beyond ids and types)."""
