"""``python -m jobs.sandbox --size 100000 --port 8765``: serve the sandbox CRM."""

from __future__ import annotations

import argparse

from jobs.sandbox.config import SandboxConfig
from jobs.sandbox.server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m jobs.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--size", type=int, default=1000, help="number of clients (jobs), 10..1,000,000")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--api-key", default="sandbox-key")
    args = parser.parse_args(argv)
    serve(args.host, args.port, SandboxConfig(seed=args.seed, size=args.size, api_key=args.api_key))


if __name__ == "__main__":
    main()
