"""Live delivery: the WebSocket endpoint, the per-instance hub and cross-instance wake-ups."""
