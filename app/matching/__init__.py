"""Matches between requests' typed identifiers and the indicators of shared data.

A request's identifiers are kept normalized in request_identifiers while its content is kept
(written with the request, app/requests/intake.py; deleted by the purge). A match is found
when either side arrives: at submit, against the store (app/matching/submit.py, folded into
the submit statement); for new store rows, against open requests (:func:`on_new_objects`,
which whoever adds rows to the store calls in its transaction). Who sees a match is decided
when it is read (app/matching/shown.py), by both sides' rules (app/sharing/visibility.py).
"""

from app.matching.found import on_new_objects

__all__ = ["on_new_objects"]
