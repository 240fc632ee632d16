"""The ceiling: a bare ASGI app answering one fixed JSON body, served by uvicorn with the settings
`wabalink serve` uses (uvloop, httptools, access log off, one worker, lifespan on).

    python bench/bare_app.py --port 8001 [--body-file FILE]

It reads the request body as an ASGI app must, then answers 200 with the body (by default the same
bytes wabalink answered for the benchmarked GET, passed in by bench/run.py through --body-file).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

DEFAULT_BODY = b'{"account":{"id":"waba-00000000000000000000000000000000","registrationStatus":"COMPLETE"}}'


def make_app(body: bytes) -> Any:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", help="the JSON body to answer (default: a small fixed document)")
    args = parser.parse_args(argv)
    body = DEFAULT_BODY
    if args.body_file:
        with open(args.body_file, "rb") as handle:
            body = handle.read()

    import uvicorn

    uvicorn.run(make_app(body), host=args.host, port=args.port, loop="uvloop", http="httptools",
                lifespan="on", access_log=False, log_config=None, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
