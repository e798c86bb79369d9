"""Alerts: reaching the person who must act when the dashboard is closed (e-mail, Web Push, a
country's own SMS or voice gateway), on the outbox (app/outbox/).

- rules.py: who is alerted for which event (read by the fan-out);
- contacts.py (+ contact_schemas.py, cli.py): each person's contact methods, alerted once
  verified by the code of a test message;
- ack_links.py: the one-time links an alert carries to acknowledge without signing in;
- wording.py: what an alert says (metadata and links, never content);
- email.py, gateway.py: the couriers of Route.EMAIL and Route.GATEWAY."""
