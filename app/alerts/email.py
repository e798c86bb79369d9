"""The e-mail courier (Route.EMAIL): alerts and contact methods' test messages, over SMTP
(aiosmtplib) with STARTTLS and AUTH as the settings say.

A message's Message-ID is made from its outbox id, so a retry, or a resend after a crash, is
recognisably the same mail. The mail says what the alert is about in metadata only
(app/alerts/wording.py) and carries the one-time acknowledge link; a test message carries its
code. An SMTP 5xx for the recipient or the message is permanent (no retry); a 4xx, a lost
connection, a timeout, or a refusal of our own sender or credentials (the server's setup,
not the address) is tried again on RELAY247_ALERT_RETRY_SCHEDULE.

Without RELAY247_SMTP_HOST there is no courier (:func:`couriers` gives none): e-mail messages
wait in the outbox, queued under ``email`` in /readyz, until an instance has one.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import urlsplit

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession

from app.alerts import contacts, wording
from app.core.service_secret import ServiceSecret
from app.core.settings import OutboxSettings
from app.models.contact import ContactKind
from app.models.outbox import Route
from app.outbox.couriers import (
    DELIVERED,
    MOOT,
    REJECTED,
    TIMEOUT,
    UNREACHABLE,
    Attempted,
    Courier,
    Leased,
    Outcome,
)
from app.webhooks import notices

_RESPONSE_MAX = 1024


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: uuid.UUID
    address: str
    verified: bool
    verification_sent_at: datetime | None


class EmailCourier:
    route = Route.EMAIL

    def __init__(self, settings: OutboxSettings, secret: ServiceSecret) -> None:
        assert settings.smtp_host is not None
        self._settings = settings
        self._secret = secret
        self.schedule: Sequence[float] = settings.alert_retry_schedule
        self._domain = urlsplit(settings.public_url).hostname or "relay247"
        self._tls = self._tls_context(settings)

    @staticmethod
    def _tls_context(settings: OutboxSettings) -> ssl.SSLContext:
        context = ssl.create_default_context(
            cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None
        )
        if not settings.smtp_tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def destinations(
        self, session: AsyncSession, ids: set[uuid.UUID]
    ) -> Mapping[uuid.UUID, Mailbox]:
        rows = await contacts.sendable(session, ids, ContactKind.EMAIL)
        return {
            m.id: Mailbox(m.id, m.address, m.verified_at is not None, m.verification_sent_at)
            for m in rows
        }

    def compose(self, message: Leased, mailbox: Mailbox) -> EmailMessage | None:
        """The mail, or None when it is no longer worth sending (a test message for a method
        verified meanwhile)."""
        mail = EmailMessage()
        if message.event_type == contacts.VERIFY_EVENT:
            if mailbox.verified or mailbox.verification_sent_at is None:
                return None
            code = contacts.verification_code(
                self._secret, mailbox.id, mailbox.verification_sent_at
            )
            mail["Subject"] = f"[relay247] Your verification code: {code}"
            hours = int(contacts.CODE_LIFETIME.total_seconds() // 3600)
            mail.set_content(
                "\n".join(
                    [
                        "This address was added to relay247 to alert you when a request "
                        "waits for you.",
                        "",
                        f"Your code: {code}",
                        "",
                        f"Enter it where the address was added; it works for {hours} hours.",
                        "If you did not expect this, ignore it: without the code, nothing "
                        "is sent here.",
                    ]
                )
                + "\n"
            )
        elif message.event_type == notices.EVENT_TYPE:
            notice = notices.notice(message.payload, self._settings.public_url)
            mail["Subject"] = notice.subject
            mail.set_content("\n".join(notice.lines()) + "\n")
        else:
            alert = wording.alert(message, self._settings, self._secret)
            mail["Subject"] = alert.subject
            minutes = int(self._settings.ack_link_lifetime.total_seconds() // 60)
            mail.set_content("\n".join(alert.lines(minutes)) + "\n")
        mail["From"] = self._settings.smtp_from
        mail["To"] = mailbox.address
        mail["Date"] = formatdate(usegmt=True)
        mail["Message-ID"] = f"<{message.id}@{self._domain}>"
        # Tells mail systems and people's rules that no human wrote it (RFC 3834): no
        # vacation replies to the sender.
        mail["Auto-Submitted"] = "auto-generated"
        return mail

    async def send(self, message: Leased, destination: Mailbox) -> Outcome:
        mail = self.compose(message, destination)
        if mail is None:
            return Outcome(MOOT, response="verified meanwhile", final=True)
        settings = self._settings
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        try:
            await aiosmtplib.send(
                mail,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                start_tls=settings.smtp_starttls,
                use_tls=False,
                tls_context=self._tls,
                validate_certs=settings.smtp_tls_verify,
                username=settings.smtp_username,
                password=password,
                timeout=settings.send_timeout.total_seconds(),
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            first = refused.recipients[0]
            return _answered(first.code, first.message, permanent_if_5xx=True)
        except (aiosmtplib.SMTPAuthenticationError, aiosmtplib.SMTPSenderRefused) as exc:
            # Our setup, not the address: tried again (and the operator sees it in the log).
            return _answered(exc.code, exc.message, permanent_if_5xx=False)
        except aiosmtplib.SMTPResponseException as exc:
            return _answered(exc.code, exc.message, permanent_if_5xx=True)
        except aiosmtplib.SMTPTimeoutError:
            return Outcome(TIMEOUT)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Outcome(UNREACHABLE, response=type(exc).__name__)
        return Outcome(DELIVERED, status_code=250)

    async def after(self, session: AsyncSession, attempts: Sequence[Attempted]) -> None:
        return None


def _answered(code: int, text: str, *, permanent_if_5xx: bool) -> Outcome:
    valid = code if 100 <= code <= 999 else None
    return Outcome(
        REJECTED,
        status_code=valid,
        response=f"{code} {text}"[:_RESPONSE_MAX].replace("\x00", ""),
        final=permanent_if_5xx and 500 <= code <= 599,
    )


def couriers(settings: OutboxSettings, secret: ServiceSecret) -> dict[Route, Courier]:
    """The e-mail courier, if an SMTP server is configured."""
    if not settings.smtp_host:
        return {}
    return {Route.EMAIL: EmailCourier(settings, secret)}
