"""Business rules, one module per domain. Services flush and never commit: the caller's
unit of work (app/database/session.py) decides."""
