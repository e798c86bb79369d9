"""The typed identifiers objects carry, normalized the one way both sides of matching use.

A request's identifiers (app/requests/schemas.py checks their form) and the identifiers of
shared STIX objects meet only through ``normalize``: the same value written two ways (an
upper-case domain, a compressed IPv6 address, a phone number with spaces) must give the same
string on both sides, or a match is silently missed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import idna

from app.models.enums import IdentifierKind
from app.stix.patterns import equality_comparisons

# The forms app/requests/schemas.py accepts (tests/test_stix_identifiers.py holds the two
# together): anything a request may name, normalize takes.
_DOMAIN = re.compile(r"(?=.{1,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_HEX_DIGEST = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128}")
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+", re.I)
_PHONE = re.compile(r"\+?[0-9 ().-]{4,32}")
_MAX = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
# Bech32 addresses (bc1…, ltc1…) are case-insensitive and written lower case, Ethereum's
# 0x… hex case-insensitive (its mixed case is only a checksum); others (base58) are not.
_CASELESS_CRYPTO = re.compile(r"(?:bc|tb|ltc|bcrt)1[02-9ac-hj-np-z]{6,87}|0x[0-9a-f]{40}", re.I)


def _domain(value: str) -> str | None:
    name = value.strip().lower().removesuffix(".")  # the root's dot: example.org. is example.org
    if not name.isascii():
        # An internationalized name compares as its ASCII (punycode) form, which is what a
        # request can name (its domains are ASCII) and what DNS resolves.
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
    return name if _DOMAIN.fullmatch(name) else None


# A dotted quad as ipaddress writes it (no leading zeros, each part at most 255) is its own
# normal form: most addresses shared are such, and this spares ipaddress' parse (bench
# shared_intake). The validation's fast path takes the same form.
DOTTED_QUAD = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
)


def _ip(value: str) -> str | None:
    value = value.strip()
    if DOTTED_QUAD.fullmatch(value):
        return value
    if ":" not in value:
        return None  # ipaddress reads an IPv4 address only as a dotted quad, IPv6 with colons
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    # ::ffff:203.0.113.7 is the IPv4 host 203.0.113.7 as an IPv6 socket sees it.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)  # lower case, IPv6 compressed


def _email(value: str) -> str | None:
    # The whole address lower-cased: the local part is case-sensitive in RFC 5321, but no
    # common provider treats it so, and a missed match costs more than a person's second look.
    address = value.strip()
    if not _EMAIL.fullmatch(address):
        return None
    local, _, domain = address.rpartition("@")
    domain_name = _domain(domain)
    return f"{local.lower()}@{domain_name}" if domain_name else None


def _url(value: str) -> str | None:
    # Scheme and host are case-insensitive (RFC 3986 6.2.2.1), so lower-cased; a default port
    # and an empty path are dropped/added (6.2.3); path, query and fragment are kept as written.
    url = value.strip()
    if not _URL.fullmatch(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        return None
    if not host:
        return None
    scheme = parts.scheme.lower()
    ip = _ip(host)
    if ip is not None:
        host = f"[{ip}]" if ":" in ip else ip
    else:
        ascii_host = _domain(host) or (host if host.isascii() else None)
        if ascii_host is None:
            return None
        host = ascii_host.lower()
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (f"{userinfo}@" if userinfo else "") + host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, parts.fragment))


def _hash(value: str) -> str | None:
    digest = value.strip().lower()
    return digest if _HEX_DIGEST.fullmatch(digest) else None


def _phone(value: str) -> str | None:
    # E.164-like: '+' and digits; an international '00' prefix read as '+'. A national number
    # keeps its digits (no country is guessed).
    number = value.strip()
    if not _PHONE.fullmatch(number):
        return None
    digits = re.sub(r"[^0-9]", "", number)
    if number.startswith("+"):
        digits = "+" + digits
    elif digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits if 4 <= len(digits.lstrip("+")) <= 20 else None


def _as_given(value: str) -> str | None:
    text = value.strip()
    return text if 0 < len(text) <= _MAX and text.isprintable() else None


def _crypto(value: str) -> str | None:
    address = _as_given(value)
    if address is None or any(c.isspace() for c in address):
        return None
    return address.lower() if _CASELESS_CRYPTO.fullmatch(address) else address


_NORMALIZERS: dict[IdentifierKind, Callable[[str], str | None]] = {
    IdentifierKind.IP: _ip,
    IdentifierKind.DOMAIN: _domain,
    IdentifierKind.URL: _url,
    IdentifierKind.EMAIL: _email,
    IdentifierKind.HASH: _hash,
    IdentifierKind.PHONE: _phone,
    IdentifierKind.ACCOUNT: _as_given,
    IdentifierKind.CRYPTO_ADDRESS: _crypto,
}


def normalize(kind: IdentifierKind, value: str) -> str | None:
    """The one comparable form of ``value`` as an identifier of ``kind``; None when it is not
    one (or is longer than a request's identifiers may be)."""
    if not isinstance(value, str) or len(value) > _MAX:
        return None
    return _NORMALIZERS[kind](value)


# What misp-stix makes of the MISP attribute types STIX has no object for: an
# ``x-misp-attribute`` with ``x_misp_type`` and ``x_misp_value``.
_MISP_KINDS = {
    "btc": IdentifierKind.CRYPTO_ADDRESS,
    "xmr": IdentifierKind.CRYPTO_ADDRESS,
    "dash": IdentifierKind.CRYPTO_ADDRESS,
    "phone-number": IdentifierKind.PHONE,
    "whois-registrant-phone": IdentifierKind.PHONE,
}
_VALUE_KINDS = {
    "ipv4-addr": IdentifierKind.IP,
    "ipv6-addr": IdentifierKind.IP,
    "domain-name": IdentifierKind.DOMAIN,
    "url": IdentifierKind.URL,
    "email-addr": IdentifierKind.EMAIL,
}
_EMAIL_REFS = {"from_ref", "sender_ref", "to_refs", "cc_refs", "bcc_refs"}


def _sco_values(obj: Mapping[str, Any]) -> Iterator[tuple[IdentifierKind, Any]]:
    object_type = obj.get("type")
    if not isinstance(object_type, str):
        return
    if object_type in _VALUE_KINDS:
        yield _VALUE_KINDS[object_type], obj.get("value")
    elif object_type == "file":
        hashes = obj.get("hashes")
        if isinstance(hashes, Mapping):
            for digest in hashes.values():
                yield IdentifierKind.HASH, digest
    elif object_type == "user-account":
        yield IdentifierKind.ACCOUNT, obj.get("account_login")
        yield IdentifierKind.ACCOUNT, obj.get("user_id")
    elif object_type == "x-misp-attribute":
        misp_type = obj.get("x_misp_type")
        kind = _MISP_KINDS.get(misp_type) if isinstance(misp_type, str) else None
        if kind is not None:
            yield kind, obj.get("x_misp_value")


def _pattern_values(pattern: str) -> Iterator[tuple[IdentifierKind, str]]:
    for object_type, path, value in equality_comparisons(pattern):
        if object_type in _VALUE_KINDS and path == ("value",):
            yield _VALUE_KINDS[object_type], value
        elif object_type == "file" and len(path) == 2 and path[0] == "hashes":
            yield IdentifierKind.HASH, value
        elif object_type == "user-account" and path in (("account_login",), ("user_id",)):
            yield IdentifierKind.ACCOUNT, value
        elif object_type == "email-message" and path[0] in _EMAIL_REFS and path[-1] == "value":
            yield IdentifierKind.EMAIL, value
        elif (
            object_type == "network-traffic"
            and len(path) == 2
            and path[0] in ("src_ref", "dst_ref")
            and path[1] == "value"
        ):
            # A network-traffic endpoint is an IPv4, IPv6 address or a domain name.
            kind = IdentifierKind.IP if _ip(value) is not None else IdentifierKind.DOMAIN
            yield kind, value


def identifiers_of(obj: Mapping[str, Any]) -> list[tuple[IdentifierKind, str]]:
    """The normalized identifiers an object carries, each once, in the order met: an SCO's
    value (addresses, domain, URL, e-mail, file hashes, accounts; MISP's crypto addresses and
    phone numbers), or the equality comparisons of an indicator's STIX pattern. Other
    comparisons (ranges, LIKE, MATCHES, ISSUBSET, negations) are not identifiers."""
    if obj.get("type") == "indicator":
        pattern = obj.get("pattern")
        if obj.get("pattern_type") != "stix" or not isinstance(pattern, str):
            return []
        candidates: Iterator[tuple[IdentifierKind, Any]] = _pattern_values(pattern)
    else:
        candidates = _sco_values(obj)
    found: dict[tuple[IdentifierKind, str], None] = {}
    for kind, value in candidates:
        if isinstance(value, str):
            normalized = normalize(kind, value)
            if normalized is not None:
                found[(kind, normalized)] = None
    return list(found)
