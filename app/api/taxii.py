"""The TAXII 2.1 server: discovery at /taxii2/, one API root at /taxii2/api/ (thin routes;
the protocol is app/taxii, the data and its rules app/sharing).

Every answer, refusals included, is TAXII's media type (``application/taxii+json;version=2.1``):
a refusal is a TAXII error message (title, description, http_status), never a problem+json,
whatever raised it (TaxiiRoute). Callers authenticate with their relay247 bearer token
(``Authorization: Bearer``), as on /v1: 401 without one.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import ActorOnly, CurrentActor, DatabaseOf, Session, SettingsOf
from app.core.errors import DomainError
from app.core.settings import Settings
from app.identity.auth import ensure_still_usable
from app.models import DataCollection, DataSubmission
from app.sharing import collections, intake, reads, visibility
from app.taxii import filters as taxii_filters
from app.taxii import media, paging, resources
from app.taxii.errors import TaxiiError, TaxiiResponse, error_response

# A POST's body is read by its route, against the API root's max_content_length, not by the
# service-wide RELAY247_MAX_BODY_BYTES (app/api/body_limit.py exempts these paths).
STREAMED_BODY = re.compile(r"/taxii2/api/collections/[^/]+/objects/?")
OBJECT_FILTERS = frozenset({"match[type]", "match[id]", "match[version]", "match[spec_version]"})
ONE_OBJECT_FILTERS = frozenset({"match[version]", "match[spec_version]"})
VERSION_FILTERS = frozenset({"match[spec_version]"})


class TaxiiRoute(APIRoute):
    """Whatever a TAXII route raises is answered as a TAXII error message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def taxii_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except TaxiiError as exc:
                return error_response(exc)
            except DomainError as exc:
                return error_response(TaxiiError.of(exc))
            except RequestValidationError as exc:
                where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()[:5])
                return error_response(TaxiiError(400, "Bad Request", f"invalid input: {where}"))
            except IntegrityError:
                return error_response(
                    TaxiiError(
                        409, "Conflict", "a concurrent submission stored the same objects; retry"
                    )
                )
            except StarletteHTTPException as exc:
                return error_response(TaxiiError(exc.status_code, "Error", str(exc.detail)))

        return taxii_handler


class TaxiiErrors:
    """What is refused before a TAXII route runs, or fails past it (admission's 408, 429 and
    503, the last resort's 500), is a problem+json: on /taxii2 it is said again as a TAXII
    error message, with its status and headers, since a TAXII client reads nothing else."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(router.prefix):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()

        async def resay(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                media = Headers(raw=message["headers"]).get("content-type", "")
                if media.startswith("application/problem+json"):
                    start = message  # held until its body is complete
                    return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            try:
                problem = json.loads(body)
            except ValueError:
                problem = {}
            kept = {
                name: value
                for name, value in Headers(raw=start["headers"]).items()
                if name not in ("content-type", "content-length")
            }
            error = TaxiiError(
                start["status"],
                str(problem.get("title", "Error")),
                str(problem.get("detail", "")),
                headers=kept,
            )
            await error_response(error)(scope, receive, send)

        await self.app(scope, receive, resay)


async def _negotiate(request: Request) -> None:
    media.require_acceptable(request.headers.get("accept"))


router = APIRouter(
    prefix="/taxii2",
    tags=["taxii"],
    route_class=TaxiiRoute,
    dependencies=[Depends(_negotiate)],
    include_in_schema=False,
)


def _uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise TaxiiError(404, "Not Found", f"no {what} {value[:64]}") from None


def _paging_key(request: Request) -> bytes:
    key: bytes = request.app.state.service_secret.derive(paging.KEY_PURPOSE)
    return key


def _status(submission: DataSubmission) -> dict[str, Any]:
    return resources.status(
        str(submission.id),
        request_timestamp=submission.created_at,
        total=submission.total_count,
        success=submission.success_count,
        failures=submission.failures,
        pending=submission.pending_count,
    )


def _collection(collection: DataCollection, actor: Any) -> dict[str, Any]:
    return resources.collection(
        str(collection.id),
        collection.title,
        collection.description,
        can_read=visibility.can_read(actor, collection),
        can_write=visibility.can_write(actor, collection),
    )


@router.get("/")
async def discovery(request: Request, actor: CurrentActor) -> TaxiiResponse:
    return TaxiiResponse(resources.discovery(str(request.base_url)))


@router.get("/api/")
async def api_root(actor: CurrentActor, settings: SettingsOf) -> TaxiiResponse:
    return TaxiiResponse(resources.api_root(settings.sharing.taxii_max_content_length))


@router.get("/api/collections/")
async def list_collections(session: Session, actor: CurrentActor) -> TaxiiResponse:
    found = await collections.list_readable(session, actor)
    body = {"collections": [_collection(row, actor) for row in found]} if found else {}
    return TaxiiResponse(body)


@router.get("/api/collections/{collection_id}/")
async def get_collection(
    collection_id: str, session: Session, actor: CurrentActor
) -> TaxiiResponse:
    collection = await collections.get_readable(session, actor, _uuid(collection_id, "collection"))
    return TaxiiResponse(_collection(collection, actor))


async def _page(
    request: Request,
    session: Session,
    actor: CurrentActor,
    settings: Settings,
    collection_id: str,
    *,
    endpoint: str,
    allowed: frozenset[str],
    object_id: str | None = None,
) -> tuple[DataCollection, reads.Page, str | None]:
    filters = taxii_filters.parse(
        request.query_params, page_max=settings.sharing.taxii_page_max, allowed=allowed
    )
    if object_id is not None:
        filters = dataclasses.replace(filters, ids=(taxii_filters.object_id(object_id),))
    collection = await collections.get_readable(session, actor, _uuid(collection_id, "collection"))
    key = _paging_key(request)
    query = filters.query_key(f"{endpoint}:{collection.id}")
    after = paging.decode(key, query, filters.next) if filters.next else None
    page = await reads.page(
        session,
        actor,
        collection,
        filters,
        after,
        with_objects=endpoint in ("objects", "object"),
        all_versions=endpoint == "versions",
    )
    if (
        object_id is not None
        and not page.items
        and after is None
        and not await reads.exists_visible(session, actor, collection, object_id)
    ):
        raise TaxiiError(404, "Not Found", f"no object {object_id[:128]} in this collection")
    last = page.last
    token = paging.encode(key, query, last) if page.more and last is not None else None
    return collection, page, token


def _headers(page: reads.Page) -> dict[str, str]:
    if not page.items:
        return {}
    return resources.page_headers(page.items[0].date_added, page.items[-1].date_added)


async def _objects_response(
    session: Session,
    actor: CurrentActor,
    collection: DataCollection,
    page: reads.Page,
    token: str | None,
    what: str,
) -> TaxiiResponse:
    """An envelope of objects, their read audited (``what``: "objects" or "object")."""
    await reads.record_read(session, actor, collection, len(page.items), what)
    body = resources.envelope(
        "objects", reads.items_of(page.items), more=page.more, next_token=token
    )
    return TaxiiResponse(body, headers=_headers(page))


@router.get("/api/collections/{collection_id}/objects/")
async def get_objects(
    request: Request,
    collection_id: str,
    session: Session,
    actor: CurrentActor,
    settings: SettingsOf,
) -> TaxiiResponse:
    collection, page, token = await _page(
        request, session, actor, settings, collection_id, endpoint="objects", allowed=OBJECT_FILTERS
    )
    return await _objects_response(session, actor, collection, page, token, "objects")


@router.get("/api/collections/{collection_id}/objects/{object_id}/")
async def get_object(
    request: Request,
    collection_id: str,
    object_id: str,
    session: Session,
    actor: CurrentActor,
    settings: SettingsOf,
) -> TaxiiResponse:
    collection, page, token = await _page(
        request,
        session,
        actor,
        settings,
        collection_id,
        endpoint="object",
        allowed=ONE_OBJECT_FILTERS,
        object_id=object_id,
    )
    return await _objects_response(session, actor, collection, page, token, "object")


@router.get("/api/collections/{collection_id}/objects/{object_id}/versions/")
async def get_versions(
    request: Request,
    collection_id: str,
    object_id: str,
    session: Session,
    actor: CurrentActor,
    settings: SettingsOf,
) -> TaxiiResponse:
    _, page, token = await _page(
        request,
        session,
        actor,
        settings,
        collection_id,
        endpoint="versions",
        allowed=VERSION_FILTERS,
        object_id=object_id,
    )
    versions = [taxii_filters.render_timestamp(item.version) for item in page.items]
    body = resources.envelope("versions", versions, more=page.more, next_token=token)
    return TaxiiResponse(body, headers=_headers(page))


@router.get("/api/collections/{collection_id}/manifest/")
async def get_manifest(
    request: Request,
    collection_id: str,
    session: Session,
    actor: CurrentActor,
    settings: SettingsOf,
) -> TaxiiResponse:
    _, page, token = await _page(
        request,
        session,
        actor,
        settings,
        collection_id,
        endpoint="manifest",
        allowed=OBJECT_FILTERS,
    )
    records = [
        resources.manifest_record(item.stix_id, item.date_added, item.version)
        for item in page.items
    ]
    body = resources.envelope("objects", records, more=page.more, next_token=token)
    return TaxiiResponse(body, headers=_headers(page))


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, refused (413, connection closed) as soon as its declared length or the bytes
    read pass ``limit``: never more than that in memory."""
    declared = request.headers.get("content-length")
    too_large = TaxiiError(
        413,
        "Payload Too Large",
        f"the body is larger than the API root's max_content_length, {limit} bytes",
        headers={"Connection": "close"},
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


@router.post("/api/collections/{collection_id}/objects/", status_code=202)
async def add_objects(
    request: Request,
    collection_id: str,
    database: DatabaseOf,
    actor: ActorOnly,
    settings: SettingsOf,
) -> TaxiiResponse:
    """Add objects: stored whole or refused whole before the answer, so the status is final
    ("complete") at once. The body is read only once the caller may write here."""
    media.require_taxii_body(request.headers.get("content-type"))
    target = _uuid(collection_id, "collection")
    async with database.transaction() as session:
        await collections.get_writable(session, actor, target)
    body = await read_limited(request, settings.sharing.taxii_max_content_length)
    async with database.transaction() as session:
        await ensure_still_usable(session, actor)
        outcome = await intake.submit_bundle(session, actor, target, body, settings.sharing)
    if outcome.submission is None:
        raise TaxiiError(400, "Invalid bundle", outcome.unreadable or "not a bundle")
    return TaxiiResponse(_status(outcome.submission), status_code=202)


@router.get("/api/status/{status_id}/")
@router.get("/api/status/{status_id}", include_in_schema=False)
async def get_status(status_id: str, session: Session, actor: CurrentActor) -> TaxiiResponse:
    submission = await reads.get_status(session, actor, _uuid(status_id, "status"))
    return TaxiiResponse(_status(submission))


@router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
async def not_found(rest: str) -> TaxiiResponse:
    raise TaxiiError(404, "Not Found", "no such TAXII resource")
