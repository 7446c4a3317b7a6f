"""The worker process's progress publisher, made on first use (every actor thread shares its Redis client)."""

from __future__ import annotations

import threading

from core.progress import Publisher
from core.settings import settings

_publisher: Publisher | None = None
_lock = threading.Lock()


def publisher() -> Publisher:
    global _publisher
    with _lock:
        if _publisher is None:
            _publisher = Publisher(settings().redis)
        return _publisher
