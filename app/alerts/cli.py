"""`relay247 contacts`: a person's contact methods from the shell, for an operator (audited
as done by no principal), with the same rules as the API: a method is alerted once the code
of its test message is confirmed."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer
from pydantic import ValidationError

from app.alerts import contacts
from app.alerts.contact_schemas import ContactMethodCreate, ContactMethodOut
from app.cli.app import contacts_cli
from app.cli.common import database_url, echo_err, in_transaction
from app.core.service_secret import ServiceSecret
from app.core.settings import database_settings, outbox_settings
from app.models.contact import ContactKind
from app.outbound.http import OutboundHttp

PrincipalArgument = Annotated[uuid.UUID, typer.Argument(help="The person's principal id.")]
MethodArgument = Annotated[uuid.UUID, typer.Argument(help="The contact method's id.")]


def _secret() -> ServiceSecret:
    return ServiceSecret(outbox_settings().secret_key_path(database_settings()))


def _line(method: ContactMethodOut) -> str:
    state = "verified" if method.verified else "not verified"
    label = f" ({method.label})" if method.label else ""
    return f"{method.id}  {method.kind.value:<8} {state:<12} {method.address}{label}"


@contacts_cli.command("list")
def list_methods(principal_id: PrincipalArgument) -> None:
    """A person's contact methods: id, kind, whether verified, address."""
    found = in_transaction(database_url(), lambda s: contacts.list_methods(s, None, principal_id))
    for method in found.items:
        typer.echo(_line(method))


@contacts_cli.command("add")
def add_method(
    principal_id: PrincipalArgument,
    kind: Annotated[ContactKind, typer.Option(help="email, web_push or gateway")],
    address: Annotated[str, typer.Option(help="The e-mail address, or the URL")],
    label: Annotated[str, typer.Option(help="Which phone, which mailbox")] = "",
    p256dh: Annotated[str | None, typer.Option(help="web_push: the subscription's key")] = None,
    auth: Annotated[str | None, typer.Option(help="web_push: the subscription's secret")] = None,
) -> None:
    """Add a contact method and send it its test message; prints its id (and a gateway's
    signing secret, shown only now)."""
    keys = {"p256dh": p256dh, "auth": auth} if p256dh is not None or auth is not None else None
    try:
        draft = ContactMethodCreate.model_validate(
            {"kind": kind, "address": address, "label": label, "keys": keys}
        )
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            echo_err(f"relay247: {where}: {error['msg']}")
        raise typer.Exit(2) from None
    settings = outbox_settings()
    made = in_transaction(
        database_url(),
        lambda s: contacts.add(
            s, None, principal_id, draft, secret=_secret(), outbound=OutboundHttp(settings)
        ),
    )
    typer.echo(str(made.id))
    if made.secret:
        typer.echo(f"signing secret (shown only now): {made.secret}")


@contacts_cli.command("remove")
def remove_method(principal_id: PrincipalArgument, method_id: MethodArgument) -> None:
    """Remove a contact method: no alert goes there again."""
    in_transaction(database_url(), lambda s: contacts.remove(s, None, principal_id, method_id))
    typer.echo(f"contact method {method_id} removed")


@contacts_cli.command("verify")
def verify_method(
    principal_id: PrincipalArgument,
    method_id: MethodArgument,
    code: Annotated[str, typer.Argument(help="The code of the test message")],
) -> None:
    """Confirm the code of a method's test message: it is alerted from now on."""
    in_transaction(
        database_url(),
        lambda s: contacts.verify(s, _secret(), None, principal_id, method_id, code[:32]),
    )
    typer.echo(f"contact method {method_id} is verified")


@contacts_cli.command("resend")
def resend_verification(principal_id: PrincipalArgument, method_id: MethodArgument) -> None:
    """Send a method another test message, with a new code."""
    in_transaction(database_url(), lambda s: contacts.resend(s, None, principal_id, method_id))
    typer.echo(f"a new test message goes to contact method {method_id}")
