"""Refuse request bodies above a size limit before the application reads them.

A declared Content-Length is checked at once. A body without one (chunked) is read here, up
to the limit, before the application runs: the moment it exceeds the limit it is refused, so
memory stays bounded by the limit, and the application then gets the buffered body as if it
had arrived in one piece. Refusing from inside the application instead would surface as a
body-parsing error (400), not as 413.

Routes that stream their body in (an evidence file upload) are exempt, by a path pattern the
middleware is given: they enforce a limit of their own while they read, and buffering their
body here would hold up to that limit in memory.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.problems import MEDIA_TYPE


class _Gone:
    """What _read_up_to_limit gives for a body whose client left before its end."""


_GONE = _Gone()


class BodySizeLimit:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, streamed: re.Pattern[str] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = streamed  # paths whose routes stream their body and limit it themselves

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.streamed is not None and self.streamed.fullmatch(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        # With Transfer-Encoding, any Content-Length is to be ignored (RFC 9112, 6.3).
        if b"transfer-encoding" in headers:
            buffered = await self._read_up_to_limit(receive)
            if buffered is None:
                await self._refuse(send)
                return
            if isinstance(buffered, _Gone):
                # Never a part of a body handed on as if whole: the application hears from
                # receive() that the client left, as it would have without this middleware.
                await self.app(scope, receive, send)
                return
            await self.app(scope, _replay(buffered, receive), send)
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        # The server stops a body at its declared length, and without either header there
        # is no body: nothing more to watch.
        await self.app(scope, receive, send)

    async def _read_up_to_limit(self, receive: Receive) -> bytes | _Gone | None:
        """The whole body, None as soon as it is larger than the limit, or _GONE when the
        client left before its end (or was told it was too slow, app/api/admission.py)."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _GONE
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return bytes(body)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "type": "urn:relay247:problem:body-too-large",
                "title": "Request body too large",
                "status": 413,
                "detail": f"the body is larger than {self.max_bytes} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands over the buffered body once, then waits on the real one (for
    the disconnect that Starlette listens for)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
