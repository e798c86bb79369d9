"""Alerts: reaching the person who must act when the dashboard is closed (e-mail, Web Push, a
country's own SMS or voice gateway), on the outbox (app/outbox/).

rules.py says who is alerted for which event; the couriers carry them; contact methods are
each person's verified addresses; acknowledge links let an alert acknowledge by itself."""
