"""PLACEHOLDER until the alerts branch lands (it owns this module): the one-time acknowledge
token an alert carries, with the signature the couriers call. The alerts branch's version
replaces this file whole."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from app.core.service_secret import ServiceSecret
from app.core.settings import OutboxSettings

_PURPOSE = "ack-link"


def token(secret: ServiceSecret, message_id: uuid.UUID) -> str:
    mac = hmac.new(secret.derive(_PURPOSE), message_id.bytes, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(message_id.bytes + mac).rstrip(b"=").decode("ascii")


def url(settings: OutboxSettings, value: str) -> str:
    return f"{settings.public_url.rstrip('/')}/ack/{value}"
