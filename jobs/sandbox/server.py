"""Running the sandbox: ``serve`` for the CLI, ``running_sandbox`` for tests and benchmarks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from jobs.sandbox.app import create_sandbox_app
from jobs.sandbox.config import SandboxConfig


def serve(host: str = "127.0.0.1", port: int = 8765, config: SandboxConfig | None = None) -> None:
    """Serve the sandbox until interrupted (blocking)."""
    uvicorn.run(create_sandbox_app(config), host=host, port=port, log_level="warning", access_log=False)


@contextmanager
def running_sandbox(config: SandboxConfig | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the sandbox on a free loopback port in a background thread; yields the base URL.

    The socket is bound before the server starts, so the port is known without racing, and we
    wait on uvicorn's ``started`` flag rather than sleeping a guessed amount.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_sandbox_app(config),
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox CRM did not start")
        time.sleep(0.005)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
