"""HTTP to destinations that people of other organisations name (webhook endpoints, SMS
gateways, push services), guarded so that a URL can never make relay247 reach inside its own
network (SSRF).

The address is checked where the socket is made, after DNS resolution, for every connection:
a name that resolves to 10.0.0.1, ``localhost`` or the cloud's metadata service
169.254.169.254 is refused exactly like those addresses written in the URL, and a name whose
answer changes between a check and the connection (DNS rebinding) changes nothing. Only
public (globally routable) addresses are reached, unless a network is allow-listed by
RELAY247_OUTBOUND_ALLOWED_NETWORKS. Redirects are never followed (a 3xx is a failed attempt),
proxies in the environment are ignored, and an answer's body is read to a bound.
"""

from __future__ import annotations

import email.utils
import ipaddress
import socket
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from app.core.settings import OutboxSettings
from app.outbox.couriers import DELIVERED, REFUSED, REJECTED, TIMEOUT, UNREACHABLE, Outcome

# How much of an answer is kept in the delivery log.
RESPONSE_BYTES = 1024
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_LONGEST_RETRY_AFTER = 86_400.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(OSError):
    """relay247 may not connect to this address."""


# The addresses refused while making one request's connections: a list shared with the
# tasks that happy eyeballs starts (each gets a copy of the context, holding the same list).
_refused: ContextVar[list[str] | None] = ContextVar("refused_addresses", default=None)


def _unmapped(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class AddressRule:
    """Which addresses may be connected to: public ones, and those of allowed networks."""

    def __init__(self, allowed: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        self.allowed = tuple(allowed)

    def permits(self, address: Address) -> bool:
        address = _unmapped(address)
        if any(address in network for network in self.allowed):
            return True
        # is_global is false for private, loopback, link-local (the metadata service),
        # shared (CGNAT), reserved, documentation and unspecified ranges.
        return address.is_global and not address.is_multicast


class OutboundHttp:
    """One guarded client for every courier that speaks HTTP; made on first use, closed at
    shutdown."""

    def __init__(self, settings: OutboxSettings) -> None:
        self.settings = settings
        self.rule = AddressRule(list(settings.outbound_allowed_networks))
        self._session: aiohttp.ClientSession | None = None

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be a destination, told to whoever names it; None if it may.
        (Names are resolved only when connecting: the check that counts is there.)"""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return "is not a valid URL"
        schemes = {"https", "http"} if self.settings.outbound_allow_http else {"https"}
        if parts.scheme not in schemes:
            return "must be an https:// URL" + (
                "" if self.settings.outbound_allow_http else " (http is not allowed here)"
            )
        if not parts.hostname:
            return "must name a host"
        if parts.username is not None or parts.password is not None:
            return "must not carry a user name or password (the message is signed instead)"
        if port == 0:
            return "must not name port 0"
        if parts.fragment:
            return "must not have a #fragment"
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return None
        if not self.rule.permits(literal):
            return "names an address relay247 may not reach (private, loopback or link-local)"
        return None

    def _socket(self, info: tuple[Any, ...]) -> socket.socket:
        family, kind, protocol, _, address = info
        host = address[0]
        if not self.rule.permits(ipaddress.ip_address(host.split("%")[0])):
            refused = _refused.get()
            if refused is not None:
                refused.append(host)
            raise RefusedAddress(f"{host} is not an address relay247 may reach")
        return socket.socket(family, kind, protocol)

    @property
    def session(self) -> aiohttp.ClientSession:
        """The guarded session (for a library that takes one, pywebpush): within a courier's
        send only, so that the event loop is running."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.settings.most_sends_at_once,
                ttl_dns_cache=60,
                socket_factory=self._socket,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.settings.send_timeout.total_seconds()),
                trust_env=False,
                auto_decompress=False,
                headers={"User-Agent": "relay247"},
            )
        return self._session

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        gone: frozenset[int] = frozenset({410}),
    ) -> Outcome:
        """One attempt; never raises for what the destination does."""
        if (reason := self.refusal(url)) is not None:
            return Outcome(REFUSED, response=f"the URL {reason}", final=True)
        refused: list[str] = []
        token = _refused.set(refused)
        try:
            async with self.session.post(
                url, data=body, headers=dict(headers), allow_redirects=False
            ) as response:
                start = await response.content.read(RESPONSE_BYTES)
                return _outcome(response, start.decode("utf-8", "replace"), gone)
        except TimeoutError:
            return Outcome(TIMEOUT, response="no answer within RELAY247_SEND_TIMEOUT")
        except aiohttp.ClientError as exc:
            if refused:
                return Outcome(
                    REFUSED,
                    response=f"resolves to {refused[0]}, an address relay247 may not reach",
                )
            return Outcome(UNREACHABLE, response=type(exc).__name__)
        except OSError as exc:
            return Outcome(UNREACHABLE, response=type(exc).__name__)
        finally:
            _refused.reset(token)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _outcome(response: aiohttp.ClientResponse, start: str, gone: frozenset[int]) -> Outcome:
    status = response.status
    if 200 <= status < 300:
        return Outcome(DELIVERED, status_code=status, response=start)
    retry_after = None
    if status in _RETRY_AFTER_STATUSES:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    return Outcome(
        REJECTED,
        status_code=status,
        response=start,
        retry_after=retry_after,
        final=status in gone,
    )


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """RFC 9110 Retry-After: seconds, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _LONGEST_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), _LONGEST_RETRY_AFTER)
