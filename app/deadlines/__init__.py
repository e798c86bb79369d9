"""Acknowledgement deadlines, escalation and legal response clocks.

- rows.py: the deadline rows as submit and the actions write, pause and cancel them;
- firing.py: what a due deadline does to its request (escalate, remind, warn, breach);
- worker.py: the loop in every instance that claims due deadlines and fires each once.

Nothing is imported here, so that submit and the actions can import rows.py without the
worker, which imports them.
"""
