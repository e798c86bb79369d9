"""Cooperation requests: submit, read, list; and who may see each one. What happens to them
afterwards is in app/requests/actions.py.

- access.py: who may see and do what: the requests an actor sees, whom a request belongs to
  and which countries it concerns, who reads its content, which side an actor acts for, the
  channels its events go to, and its entries in the audit trail;
- views.py: what shows a request: its fields as the actor may see them, what a push carries,
  one request (get), the unconfirmed requests a socket's welcome lists, the filtered list;
- intake.py: submission: the one statement that writes a request, and submit.

Callers use the names re-exported here (``requests.find_visible``, ``requests.submit``...),
not the submodules.
"""

from __future__ import annotations

# The object type of a request's audit entries. Set before the submodules are imported: they
# import it from here.
OBJECT_TYPE = "request"

from app.requests.access import (  # noqa: E402
    audit_request,
    channels_of,
    countries_of,
    find_visible,
    owner_of,
    participant_side,
    reads_content,
    side_of,
    visible_to,
)
from app.requests.intake import Submission, submit  # noqa: E402
from app.requests.views import (  # noqa: E402
    UNCONFIRMED_LIMIT,
    RequestFilter,
    escalations,
    event_data,
    get,
    list_requests,
    unconfirmed,
)

__all__ = [
    "OBJECT_TYPE",
    "UNCONFIRMED_LIMIT",
    "RequestFilter",
    "Submission",
    "audit_request",
    "channels_of",
    "countries_of",
    "escalations",
    "event_data",
    "find_visible",
    "get",
    "list_requests",
    "owner_of",
    "participant_side",
    "reads_content",
    "side_of",
    "submit",
    "unconfirmed",
    "visible_to",
]
