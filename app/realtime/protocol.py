"""The WebSocket protocol: frames a client may send, and the close codes the server uses.

Close codes, and what a client does on each:

- 1008 policy violation (bad or missing credentials, a token in the URL, a foreign Origin,
  an invalid ``resume``): fix the client; reconnecting as it is will fail again.
- 4001 the token was revoked or has expired, or its principal was disabled: get a new token.
- 4000 too slow (the socket took nothing for ``RELAY247_WS_SEND_TIMEOUT``), 1011 server
  error, 1012 service restart (the instance is shutting down), 1013 try again later (the
  database is unavailable), or a lost connection: reconnect, with backoff, and resume from
  your cursors. Nothing is lost: events stay in the table.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter

CLOSE_POLICY = 1008
CLOSE_INTERNAL_ERROR = 1011
CLOSE_SERVICE_RESTART = 1012  # sent by uvicorn to every socket on a graceful shutdown
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_TOO_SLOW = 4000
CLOSE_TOKEN_REVOKED = 4001


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthFrame(_Frame):
    type: Literal["auth"]
    token: str = Field(max_length=200)


class ResumeFrame(_Frame):
    """The client's first frame after authenticating: deliver every event after these offsets,
    then live ones. A channel left out starts at its head in the welcome (live from now)."""

    type: Literal["resume"]
    # Strict: an offset is a JSON integer, never a string or a float that happens to parse.
    cursors: dict[str, Annotated[int, Strict(), Field(ge=0, le=2**63 - 1)]] = Field(max_length=1000)


class AckFrame(_Frame):
    type: Literal["ack"]
    request_id: uuid.UUID


class ReceivedFrame(_Frame):
    """A dashboard shows the request to a person: the first one moves it to delivered."""

    type: Literal["received"]
    request_id: uuid.UUID


class PingFrame(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[
    AuthFrame | ResumeFrame | AckFrame | ReceivedFrame | PingFrame, Field(discriminator="type")
]
client_frame = TypeAdapter(ClientFrame)
