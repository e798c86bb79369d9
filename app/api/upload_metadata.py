"""An upload's name and H3 note from headers, where they are safer than in the query.

Both are request content (a name often names a person; a note states a restriction that may
name the case). A query string is written to access logs: relay247's own redact its values,
but a reverse proxy's or a load balancer's may not. Headers are not logged, so a client sends
the name as RFC 6266 ``Content-Disposition`` (``filename*=UTF-8''...``, RFC 8187) and the note
as ``Relay247-Handling-Note``, percent-encoded UTF-8. The query stays for existing clients.
"""

from __future__ import annotations

from email.message import Message
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import Headers

from app.core.errors import InvalidInputError
from app.core.primitives import Text

NOTE_HEADER = "Relay247-Handling-Note"

_NAME = TypeAdapter(Annotated[str, Text(min_length=1, max_length=1024)])
_NOTE = TypeAdapter(Annotated[str, Text(min_length=1, max_length=500)])

OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "Content-Disposition",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The file's name, kept out of access logs: "
            "`attachment; filename*=UTF-8''<percent-encoded name>` (RFC 6266, RFC 8187)",
        },
        {
            "name": NOTE_HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
            "description": "The H3 note, percent-encoded UTF-8, kept out of access logs",
        },
    ]
}


def _utf8(value: str, field: str) -> str:
    # Starlette reads header bytes as Latin-1; a client that sent raw UTF-8 meant UTF-8.
    try:
        return value.encode("latin-1").decode()
    except UnicodeError:
        raise InvalidInputError("is not UTF-8", field=field) from None


def _filename(disposition: str) -> str:
    message = Message()
    message["content-disposition"] = _utf8(disposition, "Content-Disposition")
    try:
        filename = message.get_filename()
    except (ValueError, LookupError):  # a broken RFC 2231 value, an unknown charset
        filename = None
    if not filename:
        raise InvalidInputError(
            "has no file name: send attachment; filename*=UTF-8''<percent-encoded name>",
            field="Content-Disposition",
        )
    return filename


def _checked(adapter: TypeAdapter[str], value: str, field: str) -> str:
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise InvalidInputError(problem, field=field) from None


def from_headers(headers: Headers, *, name: str | None, note: str | None) -> tuple[str, str | None]:
    """The name and the note, each from its header or from the query, never from both."""
    disposition = headers.get("content-disposition")
    if disposition is not None:
        if name is not None:
            raise InvalidInputError(
                "came both in Content-Disposition and in the query: send it once (the "
                "header keeps it out of access logs)",
                field="name",
            )
        name = _checked(_NAME, _filename(disposition), "Content-Disposition")
    if name is None:
        raise InvalidInputError(
            "the file needs one: in Content-Disposition (attachment; filename*=UTF-8''...) "
            "or in the query",
            field="name",
        )
    header_note = headers.get(NOTE_HEADER)
    if header_note is not None:
        if note is not None:
            raise InvalidInputError(
                f"came both in {NOTE_HEADER} and in the query: send it once",
                field="handling_note",
            )
        note = _checked(_NOTE, unquote(_utf8(header_note, NOTE_HEADER)), NOTE_HEADER)
    return name, note
