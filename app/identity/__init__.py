"""Who is calling and what they may do: bearer tokens and web sessions, the access policy on
every object, and the audit of refused probes."""
