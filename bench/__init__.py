"""relay247 benchmark: submit-to-push latency, intake throughput, and the floor beneath them.

Run it with ``make bench`` (``.venv/bin/python -m bench``); ``--quick`` for a smoke test.

What is measured, all in one run on one database (``relay247_bench``, or the name given by
``--database`` or ``RELAY247_BENCH_DATABASE``, dropped and recreated on the server of
``DATABASE_URL``, or on the embedded Postgres when that is unset):

* **Submit-to-push latency.** Dashboards (WebSockets authenticated with the contact-point and
  NCB tokens of the six demo countries) listen on their country's desk. Unit tokens submit
  ``POST /v1/requests`` at a steady rate on an absolute schedule, each POST in its own task,
  each to another country. Latency is the time from just before a POST is sent to the moment
  the first dashboard of the target country receives its ``request.assigned`` frame. POST
  response latency is reported beside it.
* **Intake throughput.** POSTs with a fixed number in flight; requests per second.
* **The floor.** What the hardware gives with nothing of relay247 in the way: a bare asyncpg
  ``INSERT`` of a comparable JSON row with its commit (at the intake concurrency, and one at
  a time), and a bare ``websockets`` server on loopback sending a text frame of the size of
  an event frame to a client. The ratios compare relay247 with these.

Every client runs in this process on one event loop; the server is ``relay247 serve`` in a
subprocess. Timestamps are ``time.perf_counter()`` of this process, so client-side
overheads (JSON parsing, the event loop) are inside every figure, the floor's included.
"""
