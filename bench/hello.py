"""The framework's floor: a bare Litestar hello-world, served as ``wedsync web`` serves the app (``webapp.cli.serve``:
the same uvicorn options, workers and socket), so a page's requests/s can be read against what Litestar and uvicorn
give on this machine today (``list_fragment_vs_framework`` in ``bench.load``).

``python -m bench.hello --port 0 --port-file F --workers N``.
"""

from __future__ import annotations

import argparse

from litestar import Litestar, get


@get("/", sync_to_thread=False)
def hello() -> str:
    return "Hello, world!"


def create_app() -> Litestar:
    return Litestar(route_handlers=[hello], openapi_config=None, debug=False)


def main() -> None:
    from webapp.cli import serve

    parser = argparse.ArgumentParser(prog="python -m bench.hello")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", default=None)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    serve("bench.hello:create_app", host=args.host, port=args.port, workers=args.workers, port_file=args.port_file)


if __name__ == "__main__":
    main()
