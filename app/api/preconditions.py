"""The ``If-Match`` request header and the ``ETag`` response header, as routes declare them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header

from app.core.primitives import Text

IfMatch = Annotated[
    Annotated[str, Text(min_length=1, max_length=200)] | None,
    Header(
        alias="If-Match",
        description='The ETag you read (e.g. `"3"`): the change is made only if the object is '
        "still at that version, else 412",
    ),
]


def with_etag(status: int = 200) -> dict[int | str, dict[str, Any]]:
    """The success response of a route that sets ETag, for its ``responses=``."""
    return {
        status: {
            "headers": {
                "ETag": {
                    "schema": {"type": "string"},
                    "description": "The object's version: send it back in If-Match",
                }
            }
        }
    }
