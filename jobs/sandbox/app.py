from __future__ import annotations

from typing import Any, cast

from litestar import Litestar
from litestar.types import Middleware

from jobs.sandbox.config import SandboxConfig
from jobs.sandbox.control_routes import control_handlers
from jobs.sandbox.faults import ASGIApp, fault_middleware
from jobs.sandbox.front import sandbox_front
from jobs.sandbox.lightblue_routes import build_lightblue_router
from jobs.sandbox.state import SandboxState
from jobs.sandbox.tave_routes import build_tave_api


class SandboxApp:
    """The sandbox CRM as an ASGI app: the Tave collections through a plain front (front.py), everything
    else through Litestar. ``state`` is the studio, its faults and its statistics (one studio per app)."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.state = state = SandboxState.create(config or SandboxConfig())
        router, listing = build_tave_api(state)
        self.litestar = Litestar(
            route_handlers=[router, build_lightblue_router(state), *control_handlers(state)],
            # Plain ASGI middleware typed with plain mappings; Litestar's TypedDict scopes are the same
            # objects at run time.
            middleware=[cast("Middleware", fault_middleware(state.faults, state.stats))],
            openapi_config=None,
            debug=False,
        )
        self.litestar.state.sandbox = state
        self._front = sandbox_front(cast("ASGIApp", self.litestar), state, listing)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._front(scope, receive, send)


def create_sandbox_app(config: SandboxConfig | None = None) -> SandboxApp:
    """Build the sandbox CRM app. All state lives in this app instance (one studio per app)."""
    return SandboxApp(config)
