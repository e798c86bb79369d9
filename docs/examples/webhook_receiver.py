"""A case system's receiver of relay247's webhooks (Standard Webhooks v1, the README's
snippet), with the `standardwebhooks` package and nothing else:

    RELAY247_WEBHOOK_SECRET=whsec_... PORT=8300 python docs/examples/webhook_receiver.py

It prints each new message's type and request id, and answers 204 at once: the work (reading
the request through the API) is for later, not for the 15 s relay247 waits.
tests/test_readme_examples.py runs this file against a real server.
"""

from __future__ import annotations

import os
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["RELAY247_WEBHOOK_SECRET"])  # shown once, when the endpoint was made
seen: set[str] = set()  # webhook-id: the same on every retry of a message


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        try:
            message = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError:
            self.send_response(401)  # not from relay247 (or too old: a replay)
            self.end_headers()
            return
        if self.headers["webhook-id"] not in seen:
            seen.add(self.headers["webhook-id"])
            print(message["type"], message["data"]["request_id"], flush=True)
        self.send_response(204)
        self.end_headers()


HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8300"))), Receiver).serve_forever()
