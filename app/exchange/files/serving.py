"""How a file's bytes go out: never as something a browser would run at the API's origin.

Evidence is whatever a requesting unit uploaded, so an HTML page or an SVG with a script in it
is just another file. Served with its own type from the API's origin, a browser opening it
would run that script with the dashboard's cookie at hand. So only types a browser shows
without running anything keep their type on the wire; every other one goes out as opaque
bytes. An allowlist, not a list of dangerous types: a type nobody thought of (XHTML, XSLT, a
new script type) is opaque by default. The sniffed type stays in the file's metadata.
"""

from __future__ import annotations

OPAQUE = "application/octet-stream"

# Types a browser displays (or hands to a viewer of its own) without running script in the
# page's origin.
_PASSIVE = frozenset(
    {
        "text/plain",
        "text/csv",
        "application/pdf",
        "application/zip",
        "application/gzip",
        "application/json",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/tiff",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "video/mp4",
        "video/webm",
        OPAQUE,
    }
)

# On every download, whatever its type: were a browser to render it anyway, the document is a
# sandbox of its own origin that may run nothing and load nothing.
HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
}


def served_type(content_type: str) -> str:
    """The Content-Type a file goes out with: its own if passive, else opaque bytes."""
    essence = content_type.split(";", 1)[0].strip().lower()
    return content_type if essence in _PASSIVE else OPAQUE
