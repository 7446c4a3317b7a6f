"""Entry module for ``dramatiq jobs.worker``: the broker, then every actor module."""

from __future__ import annotations

import jobs.actors
import jobs.broker
import jobs.notify  # noqa: F401
