"""Keyset page cursors: the sort key of the last row shown, as an opaque URL-safe token.

A token is base64url of the cursor's msgspec JSON, so it survives a link and a form; anything that does not
decode into the expected Struct (an edited or stale link) is treated as "no cursor": the first page.
"""

from __future__ import annotations

import base64
from typing import TypeVar

import msgspec

T = TypeVar("T")


def encode_cursor(cursor: msgspec.Struct) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(cursor)).decode().rstrip("=")


def decode_cursor(token: str | None, kind: type[T]) -> T | None:
    if not token:
        return None
    try:
        return msgspec.json.decode(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), type=kind)
    except (ValueError, msgspec.DecodeError):
        return None
