"""Long-lived resources of a web process, opened in the app's lifespan."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from core.security import SecretBox
from core.settings import Settings
from webapp.cache import HotCache
from webapp.live import ProgressHub


class Resources(msgspec.Struct):
    settings: Settings
    pool: AsyncConnectionPool
    redis: Redis
    secret_box: SecretBox
    hub: ProgressHub
    cache: HotCache


def resources(request: Request[Any, Any, Any]) -> Resources:
    value = request.app.state["resources"]
    assert isinstance(value, Resources)
    return value
