"""relay247 benchmark: latency, fan-out, resume, memory, intake, CPU and overload of the
service, and the floor beneath them.

Run it with ``make bench`` (``.venv/bin/python -m bench``); ``--quick`` for a smoke test.

What is measured, all in one run on one database (``relay247_bench``, or the name given by
``--database`` or ``RELAY247_BENCH_DATABASE``, dropped and recreated on the server of
``DATABASE_URL``, or on the embedded Postgres when that is unset). Each item is a top-level
section of the JSON report:

* ``latency_ms``, ``post_latency_ms``: **submit-to-push latency.** Dashboards (WebSockets
  authenticated with the contact-point and NCB tokens of the six demo countries) listen on
  their country's desk. Unit tokens submit ``POST /v1/requests`` at a steady rate on an
  absolute schedule, each POST in its own task, each to another country. Latency is the time
  from just before a POST is sent to the moment the first dashboard of the target country
  receives its ``request.assigned`` frame. POST response latency is reported beside it.
* ``memory``: **memory per idle socket.** VmRSS of ``relay247 serve`` before and with 2,000
  authenticated idle dashboards; (with - before) / 2,000 in KiB.
* ``fanout``: **one event to 1,000 sockets** of one desk: from POST to each socket's frame,
  over sockets and over 20 events sent one after another; and per event, the last socket.
* ``resume``: **10,000 missed events.** Written to a desk channel with no dashboard on it,
  then resumed by one dashboard: time from connecting to the last event, events per second,
  and that offsets came consecutive, once each, in order.
* ``files``: **a 50 MiB evidence file** uploaded and downloaded through the API: MB/s, and
  the server's peak memory (VmHWM) meanwhile; its floor is a bare COPY of the same bytes in
  1 MiB rows and their read back, on the same database (``--only files`` runs it alone).
* ``intake``: **intake throughput** of the Python client, a fixed number of POSTs in
  flight; ``intake_wrk``: the same with ``wrk`` when it is installed (else it says so).
* ``cpu``: **CPU per request** over each intake run: relay247 serve, the Postgres backends
  of the bench database, and the load client, so a reader sees whether the client was the
  limit.
* ``overload``: **twice the sustained intake** offered open loop for 15 s: share of POSTs
  shed (503 or 429), latency of the accepted ones, other 5xx, timeouts and errors.
* ``instances``: **submit-to-push across instances**: two servers on one database,
  dashboards on one, POSTs to the other.
* ``deadlines``: **1,000 acknowledgement deadlines due at once** on two instances: how late
  each fired and was pushed, and the survivor's takeover of an instance killed with SIGKILL
  (bench/deadlines.py; ``--only deadlines``).
* ``audit``: **the audit chain's cost**: intake (POSTs, 32 in flight) on two instances side
  by side, one with its sealer and one with ``RELAY247_AUDIT_SEALER=false``, each on a
  fresh database of its own, in alternating (ABBA) rounds; ``chain_overhead``; the sealing
  lag of the entries written meanwhile; the floor: bare inserts with and without a bare
  sealer (bench/audit.py; ``--only audit``).
* ``audit_export``: **a million sealed audit entries** exported through
  ``GET /v1/audit/export`` (unfiltered and filtered to one country) with the server's peak
  RSS, and verified offline by ``relay247 audit verify``'s code; floors: a bare ``COPY`` of
  the same rows and a bare SHA-256 of the file (bench/audit_export.py;
  ``--only audit_export``, ``--audit-entries N``).
* ``floor``: **what the hardware gives** with nothing of relay247 in the way: a bare asyncpg
  ``INSERT`` of a comparable JSON row with its commit (at the intake concurrency, and one at
  a time); a bare ``websockets`` server on loopback sending a frame of the size of an event
  frame to one client; a bare server in its own process broadcasting such a frame to as many
  sockets as the fan-out, and streaming as many frames as the resume after a bare read of
  the same events. ``ratios`` compares relay247 with these.
* ``server_logs``: ERROR lines and exceptions in each server's log, which no client may
  have seen (a 500 sent after the client gave up); ``warnings`` says what a reader of the
  figures must know.

Every client runs in this process on one event loop (``wrk`` aside); the servers run in
subprocesses. Timestamps are ``time.perf_counter()`` of this process, so client-side
overheads (JSON parsing, the event loop) are inside every figure, the floor's included.
"""
