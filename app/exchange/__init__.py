"""What the two sides of a request exchange: the message thread and the evidence files."""
