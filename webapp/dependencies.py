"""What a signed-in page's handler may ask for by name (Litestar dependency injection):

- ``supplier_id``: the signed-in studio (the controllers' guard has already turned everyone else away);
- ``res``: this process's pools, cache and settings, opened in the app's lifespan;
- ``conn``: a transaction of that studio under row-level security, opened only for a handler that names it,
  committed after the handler has built its response and rolled back when it raises (Litestar throws the
  exception into the generator).

Cached reads ask for ``res`` and open a transaction only on a miss (``webapp.reads``), so a hit costs no connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
from litestar import Request
from litestar.di import Provide

from core.db.pool import tenant
from webapp.auth import provide_supplier_id
from webapp.state import Resources, resources


def provide_resources(request: Request[Any, Any, Any]) -> Resources:
    return resources(request)


async def provide_conn(res: Resources, supplier_id: int) -> AsyncIterator[psycopg.AsyncConnection]:
    async with tenant(res.pool, supplier_id) as conn:
        yield conn


# Every handler may name ``res``; the signed-in pages' controllers add the studio and its transaction.
APP_DEPENDENCIES = {"res": Provide(provide_resources, sync_to_thread=False)}
SIGNED_IN = {"supplier_id": Provide(provide_supplier_id), "conn": Provide(provide_conn)}
