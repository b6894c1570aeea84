"""The baseline of bench.api: a bare FastAPI app with one endpoint returning a constant.

Served by uvicorn as bench.api serves the product (`--workers` processes, log level info, so with the
access log), it shows what the framework and server cost at a given rate before any query runs. The
endpoint is a plain `def`, like the product's routes, so it also runs in the thread pool.
`python -m bench.api_baseline --port P` serves it on 127.0.0.1.
"""

from __future__ import annotations

import argparse

from fastapi import FastAPI

app = FastAPI(title="bench.api baseline")


@app.get("/constant")
def constant() -> dict[str, str]:
    return {"status": "ok"}


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.api_baseline", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes.")
    args = parser.parse_args()
    if args.workers > 1:  # each worker imports the app; the listener as `plantwatch api` makes it
        from plantwatch.cli.api_server import listener

        sock = listener("127.0.0.1", args.port)
        uvicorn.run("bench.api_baseline:app", fd=sock.fileno(), log_level="info", workers=args.workers)
    else:
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info")


if __name__ == "__main__":
    main()
