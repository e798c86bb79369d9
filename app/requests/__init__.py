"""Cooperation requests: submit, read, list, act; and who may see each one.

- access.py: who may see and do what: the requests an actor sees, whom a request belongs to
  and which countries it concerns, who reads its content, which side an actor acts for, the
  channels its events go to, and its entries in the audit trail;
- views.py: what shows a request: its fields as the actor may see them, what a push carries,
  one request (get), the unconfirmed requests a socket's welcome lists, the filtered list;
- intake.py: submission: submit (or, for four-eyes, hold: app/approvals/) and send_approved;
  submit_statement.py: the one statement that writes a request;
- lifecycle.py: the state machine, one table, and what each action does (EFFECTS);
  actions.py: the actions and their history;
- assignment.py: who holds a request at the target; handling.py: TLP and H codes;
- idempotency.py: Idempotency-Key on submit; routing is app/rosters/routing.py's.
"""
