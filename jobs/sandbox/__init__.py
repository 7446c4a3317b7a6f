"""Sandbox CRM: a fake Tave / VSCO Workspace API and Light Blue receiver served over real HTTP.

Used by tests, benchmarks and the ``wedsync sandbox`` command so imports can be exercised
end to end without a real CRM account.
"""

from __future__ import annotations

from jobs.sandbox.app import create_sandbox_app
from jobs.sandbox.config import FaultConfig, SandboxConfig
from jobs.sandbox.server import running_sandbox, serve

__all__ = ["FaultConfig", "SandboxConfig", "create_sandbox_app", "running_sandbox", "serve"]
