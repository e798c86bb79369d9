"""GET /v1/ws: authenticate, then hand the socket to a SocketSession."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from urllib.parse import urlsplit

from fastapi import APIRouter
from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.core.database import Database
from app.core.database.faults import is_unavailable
from app.core.errors import UnauthenticatedError
from app.core.observability.redaction import traceback_without_messages
from app.core.settings import RealtimeSettings
from app.identity import sessions
from app.identity.auth import Actor, authenticate
from app.realtime.hub import Hub
from app.realtime.protocol import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN_LATER,
    AuthFrame,
)
from app.realtime.registry import SocketRegistry
from app.realtime.socket import PeerGone, SocketSession

router = APIRouter()
log = logging.getLogger(__name__)


def _origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    origin = websocket.headers.get("origin")
    if origin is None:  # not a browser: browsers always send Origin on a WebSocket
        return True
    return origin in allowed or urlsplit(origin).netloc == websocket.headers.get("host")


async def _token(websocket: WebSocket, wait_seconds: float) -> str | None:
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    # The dashboard page's session cookie, from a page of an allowed origin only (checked
    # before): a browser always names the page that opens a socket.
    cookie = websocket.cookies.get(sessions.COOKIE)
    if cookie and websocket.headers.get("origin"):
        return cookie
    try:
        text = await asyncio.wait_for(websocket.receive_text(), timeout=wait_seconds)
        return AuthFrame.model_validate_json(text).token
    except (TimeoutError, ValidationError, KeyError):
        return None


async def _authenticate(
    websocket: WebSocket, database: Database, settings: RealtimeSettings
) -> Actor | None:
    if {"token", "access_token"} & set(websocket.query_params):
        await websocket.close(CLOSE_POLICY, "no tokens in URLs: use a header or an auth frame")
        return None
    if not _origin_allowed(websocket, settings.ws_allowed_origins):
        await websocket.close(CLOSE_POLICY, "origin not allowed")
        return None
    token = await _token(websocket, settings.ws_auth_timeout.total_seconds())
    if token is None:
        await websocket.close(
            CLOSE_POLICY, 'authenticate first: {"type":"auth","token":"r247_..."}'
        )
        return None
    remote = websocket.client.host if websocket.client else None
    try:
        async with database.transaction() as session:
            actor = await authenticate(session, token, remote)
        websocket.app.state.token_usage.mark(actor.token_id)
        return actor
    except UnauthenticatedError as exc:
        code, reason = CLOSE_POLICY, exc.detail[:120]
    except Exception as exc:
        # Not the client's fault: close with a code that says whether retrying may help (an
        # unhandled error would drop the socket as 1006), and log no message: it may quote
        # the token.
        if is_unavailable(exc):
            log.warning("socket authentication: database unavailable (%s)", type(exc).__name__)
            code, reason = CLOSE_TRY_AGAIN_LATER, "database unavailable: reconnect soon"
        else:
            log.error("socket authentication failed\n%s", traceback_without_messages(exc))
            code, reason = CLOSE_INTERNAL_ERROR, "the service failed"
    await websocket.close(code, reason)
    return None


@router.websocket("/v1/ws")
async def websocket_endpoint(websocket: WebSocket) -> None:
    state = websocket.app.state
    hub: Hub = state.hub
    database: Database = state.database
    settings: RealtimeSettings = state.realtime_settings
    sockets: SocketRegistry = state.sockets
    await websocket.accept()
    with contextlib.suppress(PeerGone, WebSocketDisconnect, OSError, RuntimeError):
        actor = await _authenticate(websocket, database, settings)
        if actor is None:
            return
        session = SocketSession(
            websocket,
            actor,
            hub=hub,
            database=database,
            settings=settings,
            reopen_window=state.settings.exchange.reopen_window,
            metrics=state.metrics,
        )
        sockets.add(session)
        try:
            await session.serve()
        finally:
            sockets.discard(session)
