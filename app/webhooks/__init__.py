"""Standard Webhooks to case systems: an agency's endpoints (endpoints.py), the thin, signed
messages sent to them (payload.py, courier.py), their delivery log, resend and recover
(deliveries.py), the notice when one is disabled (notices.py), and the event catalogue the
OpenAPI document shows (catalogue.py).

The messages themselves are written by the outbox's fan-out (app/outbox/fanout.py) in each
event's own transaction, one per endpoint hearing the event's channels; the courier makes
them thin and signs them when it sends, so a change of an endpoint's TLP ceiling or secret
applies to what is still waiting.
"""

# The service secret's purpose (app/core/service_secret.py) that endpoint secrets are sealed
# for: a sealed value opens for this purpose only.
SECRET_PURPOSE = "webhook-secret"  # noqa: S105 (a name, not a secret)
OBJECT_TYPE = "webhook_endpoint"
