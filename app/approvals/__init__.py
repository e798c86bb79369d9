"""Four-eyes for emergency disclosure (Second Additional Protocol Art. 9): a request that its
agency's agreement, or its country's policy, says a second officer must approve is held until
one does (docs/four-eyes.md).

- rules.py: when approval is needed (the one check submit makes, for emergency disclosure
  only), who may decide, who is told;
- schemas.py: what the API takes and shows;
- holding.py: holding a submission for approval (called by app/requests/intake.py's submit);
- commands.py: approve (which sends it through intake's own routing), refuse, cancel;
- expiry.py: the approvals that ran out of time, expired by the deadline workers;
- queries.py: one approval, and the list an approver works from.
"""
