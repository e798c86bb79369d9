"""Acknowledgement deadlines, escalation and legal response clocks.

- rows.py: the deadline rows as submit and the actions write, pause and cancel them;
- firing.py: what a due deadline does to its request (escalate, remind, warn, breach);
- worker.py: the loop in every instance that claims due deadlines and fires each once;
- escalation_policy.py: the policy document (who is told, in which order, after how long)
  and its step maths; escalation_policies.py: reading and writing a country's policy.
"""
