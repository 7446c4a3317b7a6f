from __future__ import annotations

from typing import cast

from litestar import Litestar
from litestar.types import Middleware

from jobs.sandbox.config import SandboxConfig
from jobs.sandbox.control_routes import control_handlers
from jobs.sandbox.faults import fault_middleware
from jobs.sandbox.lightblue_routes import build_lightblue_router
from jobs.sandbox.state import SandboxState
from jobs.sandbox.tave_routes import build_tave_router


def create_sandbox_app(config: SandboxConfig | None = None) -> Litestar:
    """Build the sandbox CRM app. All state lives in this app instance (one studio per app)."""
    state = SandboxState.create(config or SandboxConfig())
    app = Litestar(
        route_handlers=[build_tave_router(state), build_lightblue_router(state), *control_handlers(state)],
        # Plain ASGI middleware typed with plain mappings; Litestar's TypedDict scopes are the same
        # objects at run time.
        middleware=[cast("Middleware", fault_middleware(state.faults, state.stats))],
        openapi_config=None,
        debug=False,
    )
    app.state.sandbox = state
    return app
