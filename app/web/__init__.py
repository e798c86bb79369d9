"""The duty officer's dashboard: pages served by the service itself, under /web/.

The pages are shells (Jinja2 templates) and a few ES modules with no build step; every piece
of data they show comes from the public REST API and the WebSocket, exactly as any other
client gets it (the session cookie stands in for the bearer token). Only signing in and out
are routes of their own.
"""
