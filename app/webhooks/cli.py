"""`relay247 webhooks ...`: an operator manages an agency's endpoints at the shell, as its
people do over REST (audited with no acting principal)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from app.cli.app import webhooks_cli
from app.cli.common import database_url, in_transaction
from app.core.service_secret import ServiceSecret
from app.core.settings import database_settings, outbox_settings
from app.models.enums import HandlingCode
from app.outbound.http import OutboundHttp
from app.webhooks import deliveries, endpoints
from app.webhooks.schemas import EndpointCreate, EndpointPatch, Scheme


def _keys() -> endpoints.Keys:
    outbox = outbox_settings()
    secret = ServiceSecret(outbox.secret_key_path(database_settings()))
    return endpoints.Keys(secret, OutboundHttp(outbox).refusal)


def _input(model: Any, **values: Any) -> Any:
    """The same validation as the API's (a 422 there is an exit 2 here)."""
    try:
        return model(**values)
    except ValueError as exc:
        typer.echo(f"relay247: {exc}", err=True)
        raise typer.Exit(2) from exc


def _show(value: Any) -> None:
    typer.echo(json.dumps(value.model_dump(mode="json"), indent=2))


EndpointId = Annotated[uuid.UUID, typer.Argument(help="The endpoint's id.")]


@webhooks_cli.command("create")
def create(
    agency_id: Annotated[uuid.UUID, typer.Option(help="The agency whose endpoint it is.")],
    url: Annotated[str, typer.Option(help="Where messages are POSTed (https://).")],
    scheme: Annotated[Scheme, typer.Option(help="v1: HMAC whsec_; v1a: Ed25519.")] = Scheme.V1,
    event_type: Annotated[
        list[str] | None, typer.Option(help="An event type to send (repeat); none: all.")
    ] = None,
    tlp_ceiling: Annotated[HandlingCode, typer.Option()] = HandlingCode.AMBER,
    description: Annotated[str, typer.Option()] = "",
) -> None:
    """Add an endpoint to an agency; prints it with its secret (shown only now)."""
    draft = _input(
        EndpointCreate,
        url=url,
        scheme=scheme,
        event_types=event_type or [],
        tlp_ceiling=tlp_ceiling,
        description=description,
    )
    keys = _keys()
    _show(
        in_transaction(
            database_url(), lambda s: endpoints.create(s, None, draft, keys, agency_id=agency_id)
        )
    )


@webhooks_cli.command("list")
def list_(
    agency_id: Annotated[uuid.UUID | None, typer.Option(help="Only this agency's.")] = None,
) -> None:
    """The endpoints, newest first (200 at most)."""
    keys = _keys()
    page = in_transaction(
        database_url(),
        lambda s: endpoints.list_endpoints(
            s, None, keys, cursor=None, limit=200, agency_id=agency_id
        ),
    )
    for item in page.items:
        state = "enabled" if item.enabled else f"disabled ({item.disabled_reason})"
        typer.echo(f"{item.id}  {item.agency_id}  {item.scheme.value}  {state}  {item.url}")


@webhooks_cli.command("rotate")
def rotate(
    endpoint_id: EndpointId,
    scheme: Annotated[Scheme | None, typer.Option(help="Default: the current one.")] = None,
) -> None:
    """A new secret, printed (shown only now); the previous one signs too for 24 hours."""
    keys = _keys()
    issued = in_transaction(
        database_url(), lambda s: endpoints.rotate(s, None, endpoint_id, scheme, keys)
    )
    typer.echo(issued.secret)


def _enable(endpoint_id: uuid.UUID, enabled: bool) -> None:
    keys = _keys()
    patch = EndpointPatch(enabled=enabled)
    in_transaction(database_url(), lambda s: endpoints.change(s, None, endpoint_id, patch, keys))
    typer.echo(f"endpoint {endpoint_id} is {'enabled' if enabled else 'disabled'}")


@webhooks_cli.command("enable")
def enable(endpoint_id: EndpointId) -> None:
    """Send to the endpoint again (its failure clock starts afresh)."""
    _enable(endpoint_id, True)


@webhooks_cli.command("disable")
def disable(endpoint_id: EndpointId) -> None:
    """Stop sending to the endpoint."""
    _enable(endpoint_id, False)


@webhooks_cli.command("delete")
def delete(endpoint_id: EndpointId) -> None:
    """Remove the endpoint; what was still to be sent to it is not."""
    in_transaction(database_url(), lambda s: endpoints.delete(s, None, endpoint_id))
    typer.echo(f"endpoint {endpoint_id} is deleted")


@webhooks_cli.command("recover")
def recover(
    endpoint_id: EndpointId,
    since: Annotated[datetime, typer.Option(help="Messages made from then (UTC if no offset).")],
    until: Annotated[datetime | None, typer.Option(help="Up to then; default now.")] = None,
) -> None:
    """Send again the messages of a time range that failed; those delivered are skipped."""

    def utc(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    start, end = utc(since), utc(until)
    assert start is not None
    done = in_transaction(
        database_url(), lambda s: deliveries.recover(s, None, endpoint_id, start, end)
    )
    typer.echo(f"{done.requeued} messages queued again")
