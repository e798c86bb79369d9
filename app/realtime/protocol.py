"""The WebSocket protocol: frames a client may send, and the close codes the server uses."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# 1008 (policy violation): authentication failed, a token in the URL, a foreign Origin.
CLOSE_POLICY = 1008
# The client fell too far behind: reconnect and send `resume` with your last offsets.
CLOSE_RESUME = 4000
# The server is shutting down: reconnect (to any instance) and resume.
CLOSE_GOING_AWAY = 1001


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AuthFrame(_Frame):
    type: Literal["auth"]
    token: str = Field(max_length=200)


class ResumeFrame(_Frame):
    """Ask for every event after these offsets, then live ones."""

    type: Literal["resume"]
    cursors: dict[str, Annotated[int, Field(ge=0)]]


class AckFrame(_Frame):
    type: Literal["ack"]
    request_id: uuid.UUID


class PingFrame(_Frame):
    type: Literal["ping"]


ClientFrame = Annotated[AuthFrame | ResumeFrame | AckFrame | PingFrame, Field(discriminator="type")]
client_frame = TypeAdapter(ClientFrame)
