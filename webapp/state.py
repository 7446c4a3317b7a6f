"""Long-lived resources of a web process, opened in the app's lifespan."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from webapp.cache import HotCache
from webapp.live import ProgressHub
from webapp.security import SecretBox
from webapp.settings import Settings


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
