"""The directory of the network: countries and their contact-point profiles, agencies,
principals and their tokens, access agreements, escalation policies. One module each."""
