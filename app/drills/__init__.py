"""Readiness drills: the 24/7 network testing that each desk answers.

A drill is scheduled for one desk (scheduling.py), at a chosen time or at one drawn once within
a window; the drill worker (worker.py) sends it when due, exactly once across instances, as a
request marked with ``drill_id`` through the very code a submission takes
(app/requests/intake.py: routing, first deadlines, the arrival event and the alerts that follow
it), so the desk is reached, alerted and escalated as for a real request and acknowledges it
the same way. Its results (outcomes.py) are read from that request's own stamps; a drill that
reaches the end of its escalation chain unacknowledged is a failed drill the global desk is
told of. ``requests.drill_id IS NULL`` is what keeps drills out of real statistics.
"""
