"""Taking an upload in: the body is spooled to a temporary file while it is hashed, counted
and checked for text, never whole in memory; its type is sniffed from its bytes and its name
made safe to hand to any file system. The blob store then reads the spool back in chunks.

File I/O runs in worker threads (``anyio.to_thread``), in pieces of CHUNK_BYTES, so the event
loop never waits on a disk.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import IO

import anyio.to_thread
import puremagic
from pathvalidate import sanitize_filename

from app.core.errors import BodyTooLargeError, DomainError, InvalidInputError
from app.exchange.files.storage import CHUNK_BYTES

NAME_MAX_BYTES = 255
OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain"
# A match of one byte is chance, not a signature.
_LEAST_CONFIDENCE = 0.2
_LONGEST_KEPT_SUFFIX = 16  # an extension longer than this is cut with the rest of the name
_PATH_SEPARATORS = re.compile(r"[/\\]")


class UploadCutOff(DomainError):
    """The client went away before its body was complete: nothing was stored."""

    status = 400
    slug = "upload-cut-off"
    title = "Upload incomplete"


# --- the name ------------------------------------------------------------------------------


def safe_name(raw: str) -> str:
    """The client's file name as one harmless path component: no directories, no control or
    invisible characters (a right-to-left override can disguise ``gpj.exe``), no names a
    file system reserves, at most 255 bytes of UTF-8 (the extension kept). Nothing left: 422."""
    last = _PATH_SEPARATORS.split(raw)[-1]
    visible = "".join(c for c in last if not unicodedata.category(c).startswith("C"))
    # Cut before sanitising too: pathvalidate's own cut would drop the extension.
    short = _cut_to_bytes(unicodedata.normalize("NFC", visible).strip(), NAME_MAX_BYTES)
    name = sanitize_filename(short, platform="universal", max_len=NAME_MAX_BYTES)
    name = _cut_to_bytes(name.strip(), NAME_MAX_BYTES).strip(" .")
    if not name:
        raise InvalidInputError(
            "is empty once path parts, control characters and reserved characters are removed",
            field="name",
        )
    return name


def _cut_to_bytes(name: str, limit: int) -> str:
    if len(name.encode()) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension) > _LONGEST_KEPT_SUFFIX:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    room = limit - len(suffix.encode())
    # Cut on a character boundary: drop a multi-byte character split at the limit.
    return stem.encode()[:room].decode(errors="ignore").rstrip(" .") + suffix


def declared_type(value: str | None) -> str | None:
    """The Content-Type the client sent, kept as it said it (printable ASCII, 255 at most)
    for the record; the service never acts on it."""
    if not value:
        return None
    printable = "".join(c for c in value if " " <= c <= "~").strip()
    return printable[:255] or None


# --- the bytes -----------------------------------------------------------------------------


class _Spool:
    """The temporary file and what is learnt while writing it. Used from one thread at a
    time: each write is handed to a worker thread and awaited before the next."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file
        self.size = 0
        self.digest = hashlib.sha256()
        self._text = codecs.getincrementaldecoder("utf-8")()
        self.maybe_text = True

    def write(self, piece: bytes) -> None:
        self.digest.update(piece)
        self.file.write(piece)
        if self.maybe_text:
            self._check_text(piece, final=False)

    def finish(self) -> None:
        self.file.flush()
        if self.maybe_text:
            self._check_text(b"", final=True)

    def _check_text(self, piece: bytes, *, final: bool) -> None:
        if b"\0" in piece:
            self.maybe_text = False
            return
        try:
            self._text.decode(piece, final=final)
        except UnicodeDecodeError:
            self.maybe_text = False

    def sniff(self, name: str) -> str:
        """The type by the bytes' signatures (head and tail of the file, as puremagic reads
        them), else text/plain for UTF-8 without NUL, else application/octet-stream. The name's
        extension only chooses among formats whose signatures the bytes all carry."""
        self.file.seek(0)
        try:
            matches = puremagic.magic_stream(self.file, filename=name) if self.size else []
        except puremagic.PureError:
            matches = []
        finally:
            self.file.seek(0)
        return _best_type(matches) or (TEXT if self.maybe_text else OCTET_STREAM)


# Formats whose signature others share (a ZIP's fits a dozen office formats, %PDF fits FDF):
# when the bytes match several equally, the general one is the honest answer.
_GENERAL_TYPES = ("application/zip", "application/pdf", "application/x-rar-compressed")


def _best_type(matches: list[puremagic.PureMagicWithConfidence]) -> str | None:
    """The most confident type: the one the best matches agree on, or the general format
    among them; else no answer. A match the name alone made (no bytes matched) is none."""
    typed = [
        m for m in matches if m.mime_type and m.byte_match and m.confidence >= _LEAST_CONFIDENCE
    ]
    if not typed:
        return None
    best = max(m.confidence for m in typed)
    kinds: set[str] = {m.mime_type for m in typed if m.confidence == best}
    if len(kinds) == 1:
        return kinds.pop()
    return next((kind for kind in _GENERAL_TYPES if kind in kinds), None)


@dataclass(frozen=True, slots=True)
class Spooled:
    """A complete upload, on disk: its size, its hash, its sniffed type."""

    size: int
    sha256: str
    content_type: str
    _file: IO[bytes]

    async def chunks(self) -> AsyncIterator[bytes]:
        """The bytes again, in chunks of CHUNK_BYTES, read in a worker thread."""
        await anyio.to_thread.run_sync(self._file.seek, 0)
        while piece := await anyio.to_thread.run_sync(self._file.read, CHUNK_BYTES):
            yield piece


@asynccontextmanager
async def spooled(
    body: AsyncIterable[bytes], *, max_bytes: int, name: str
) -> AsyncIterator[Spooled]:
    """Read ``body`` to its end into an anonymous temporary file, refusing it (413) the moment
    it passes ``max_bytes``. The file is gone when the block exits, however it exits; being
    anonymous, it is gone even if the process dies."""
    file = await anyio.to_thread.run_sync(tempfile.TemporaryFile)
    try:
        spool = _Spool(file)
        pending = bytearray()
        async for piece in body:
            spool.size += len(piece)
            if spool.size > max_bytes:
                raise BodyTooLargeError(
                    f"the file is larger than {max_bytes} bytes "
                    "(RELAY247_FILE_MAX_BYTES): nothing was stored"
                )
            pending += piece
            if len(pending) >= CHUNK_BYTES:
                await anyio.to_thread.run_sync(spool.write, bytes(pending))
                pending.clear()
        if pending:
            await anyio.to_thread.run_sync(spool.write, bytes(pending))
        await anyio.to_thread.run_sync(spool.finish)
        content_type = await anyio.to_thread.run_sync(spool.sniff, name)
        yield Spooled(spool.size, spool.digest.hexdigest(), content_type, file)
    finally:
        await anyio.to_thread.run_sync(file.close)
