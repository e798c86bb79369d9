"""What relay247 sends to systems it does not run: HTTP to webhook endpoints, gateways and
push services (http.py, guarded against reaching inside the network), signed as Standard
Webhooks (signatures.py)."""
