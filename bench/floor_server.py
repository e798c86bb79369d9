"""A bare ``websockets`` server for the fan-out and resume floors, run in its own process
(``python -m bench.floor_server``) so that, as with ``relay247 serve``, the server's work and
the clients' work do not share one event loop.

It prints its port on stdout, then obeys JSON text frames from any client:

* ``{"broadcast": TEXT}``: send TEXT to every connected client (a fan-out);
* ``{"stream": N, "frame": TEXT}``: send TEXT N times, back to back, to the asking client
  (a resume), then ``{"streamed": N}``.
"""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.server import ServerConnection, broadcast, serve

clients: set[ServerConnection] = set()


async def handler(connection: ServerConnection) -> None:
    clients.add(connection)
    try:
        async for message in connection:
            command = json.loads(message)
            if "broadcast" in command:
                broadcast(clients, command["broadcast"])
            elif "stream" in command:
                frame = command["frame"]
                for _ in range(command["stream"]):
                    await connection.send(frame)
                await connection.send(json.dumps({"streamed": command["stream"]}))
    finally:
        clients.discard(connection)


async def main() -> None:
    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(main())
    else:
        uvloop.run(main())
