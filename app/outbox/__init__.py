"""The outbox: every message that leaves relay247 (a webhook to a case system, an alert to a
person), written as a row in the transaction of the change that causes it and sent after
commit by the sender of any instance.

- fanout.py: which messages an event makes (endpoints that hear its channels, the people the
  alert rules name), in the event's own transaction.
- store.py: the statements: lease due messages, record outcomes, cancel, count.
- sender.py: the supervised loop that leases, sends through a courier per route, and records.
- couriers.py: what a courier is (app/webhooks/ and app/alerts/ hold the real ones).
- schedule.py: when a failed message is tried again.

At least once, never zero times: a message is leased, not locked, while it is sent; a sender
that dies leaves its lease to run out, and another takes the message again with the same id.
"""

SIGNAL = "outbox"  # local signal: this transaction wrote messages; the sender looks now
