"""Response analytics: per-request outcome figures (outcomes.py), derived from the request's
own records and kept in ``request_outcomes``; aggregates of them under the requests'
visibility (aggregates.py); the histograms /metrics shows (metrics.py); and the
``relay247 analytics`` commands (cli.py)."""
