"""Contact methods over REST: what a person (or their NCB) sends to add one, and what they
see of it. The address is checked for its kind here; a gateway's URL also against the
outbound rules when it is made (app/alerts/contacts.py)."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from app.core.primitives import Text
from app.models.contact import ContactKind


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# An address goes into SMTP's RCPT TO and a header: ASCII, no spaces, quotes, brackets or
# line breaks, a dot-atom local part and a domain of LDH labels (RFC 5321's common form; a
# quoted local part or an address literal is refused rather than carried into a command).
_EMAIL = (
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]"
    r"(?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
EMAIL_MAX = 254
Address = Annotated[
    str,
    Text(min_length=3, max_length=2048),
    Field(
        description="email: the address; web_push: the push subscription's endpoint (https); "
        "gateway: the URL relay247 POSTs signed alerts to",
        examples=["duty.officer@bka.example"],
    ),
]


def _base64url(value: str, size: int, what: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise PydanticCustomError("not_base64url", f"is not base64url: {what}") from None
    if len(raw) != size:
        raise PydanticCustomError("wrong_size", f"must decode to {size} bytes: {what}")
    return value


def _p256dh(value: str) -> str:
    _base64url(value, 65, "an uncompressed P-256 public key")
    if base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))[0] != 4:
        raise PydanticCustomError("not_a_point", "is not an uncompressed P-256 point")
    return value


_Key = Text(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+={0,2}$")


class PushKeys(_Input):
    """The keys of a browser's push subscription (PushSubscription.toJSON().keys)."""

    p256dh: Annotated[str, _Key, AfterValidator(_p256dh)]
    auth: Annotated[str, _Key, AfterValidator(lambda v: _base64url(v, 16, "16 bytes"))]


class ContactMethodCreate(_Input):
    kind: ContactKind
    address: Address
    label: Annotated[str, Text(max_length=100)] = Field(
        default="", description="For people: which phone, which mailbox"
    )
    keys: PushKeys | None = Field(
        default=None,
        validate_default=True,  # so that a web_push without keys is refused
        description="web_push only: the subscription's keys",
    )

    # Field validators, so that a refusal names its field (kind is validated first).
    @field_validator("address")
    @classmethod
    def _address_of_its_kind(cls, address: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is ContactKind.EMAIL:
            if len(address) > EMAIL_MAX or not re.fullmatch(_EMAIL, address):
                raise PydanticCustomError(
                    "not_an_email_address",
                    "is not an e-mail address relay247 can send to (name@domain, ASCII)",
                )
        elif kind is not None:
            _require_url(address, https_only=kind is ContactKind.WEB_PUSH)
        return address

    @field_validator("keys")
    @classmethod
    def _keys_of_web_push(cls, keys: PushKeys | None, info: ValidationInfo) -> PushKeys | None:
        if (info.data.get("kind") is ContactKind.WEB_PUSH) != (keys is not None):
            raise PydanticCustomError("keys", "are required for web_push, and for no other kind")
        return keys


def _require_url(address: str, *, https_only: bool) -> None:
    try:
        parts = urlsplit(address)
        host = parts.hostname
    except ValueError:
        host = None
    schemes = ("https",) if https_only else ("https", "http")
    if host is None or parts.scheme not in schemes or not address.isascii():
        raise PydanticCustomError("not_a_url", f"must be an absolute {' or '.join(schemes)} URL")
    if any(c.isspace() or ord(c) < 0x21 or ord(c) == 0x7F for c in address):
        raise PydanticCustomError("not_a_url", "must not contain spaces or control characters")


class ContactMethodVerify(_Input):
    code: Annotated[str, Text(min_length=1, max_length=32)] = Field(
        description="The code of the test message (letters and digits; case and dashes do "
        "not matter)",
        examples=["K7QM-2XPD"],
    )


class ContactMethodOut(BaseModel):
    id: uuid.UUID
    principal_id: uuid.UUID
    kind: ContactKind
    label: str
    address: str
    verified: bool = Field(description="Alerts go only to verified methods")
    verified_at: datetime | None
    verification_sent_at: datetime | None = Field(
        description="When the last test message was asked for"
    )
    created_at: datetime


class ContactMethodCreated(ContactMethodOut):
    secret: str | None = Field(
        default=None,
        description="gateway only: the whsec_ secret the gateway verifies relay247's "
        "signatures with (Standard Webhooks), shown this once",
    )


class ContactMethodList(BaseModel):
    items: list[ContactMethodOut]
