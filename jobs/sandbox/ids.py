"""ULID-shaped ids that encode which synthetic record they name.

Real Workspace ids are lowercase ULIDs. Ours carry the record's creation time (so id order is
creation order, as with ULIDs) plus kind and slot bits and a keyed hash, which lets the sandbox
answer ``GET /v2/job/{id}`` by decoding instead of storing anything.
"""

from __future__ import annotations

import hashlib

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_HASH_BITS = 72
_HASH_MASK = (1 << _HASH_BITS) - 1

KIND_CODES = {"job": 1, "person": 2, "jobcontact": 3, "event": 4}
_CODE_KINDS = {v: k for k, v in KIND_CODES.items()}


# Two characters (10 bits) per table lookup: 13 lookups per id instead of 26 Python steps; a
# 100,000-client import renders over a million ids.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))


def _encode130(value: int) -> str:
    """26 Crockford base32 characters for a number below 2**130 (48-bit time + 80 random bits)."""
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


def _keyed_hash(seed: int, kind: str, job_index: int, slot: int) -> int:
    digest = hashlib.blake2b(f"{seed}:{kind}:{job_index}:{slot}".encode(), digest_size=9).digest()
    return int.from_bytes(digest, "big") & _HASH_MASK


def make_id(seed: int, kind: str, job_index: int, slot: int, created_ms: int) -> str:
    rand = (KIND_CODES[kind] << 76) | (slot << _HASH_BITS) | _keyed_hash(seed, kind, job_index, slot)
    return _encode130((created_ms << 80) | rand)


def split_id(value: str) -> tuple[int, str, int, int] | None:
    """Return (created_ms, kind, slot, hash) or None when the text is not one of ours."""
    if len(value) != 26 or any(c not in _INDEX for c in value):
        return None
    number = 0
    for c in value:
        number = (number << 5) | _INDEX[c]
    created_ms = number >> 80
    rand = number & ((1 << 80) - 1)
    kind = _CODE_KINDS.get(rand >> 76)
    if kind is None:
        return None
    return created_ms, kind, (rand >> _HASH_BITS) & 0xF, rand & _HASH_MASK


def verify(seed: int, kind: str, job_index: int, slot: int, hashed: int) -> bool:
    return _keyed_hash(seed, kind, job_index, slot) == hashed
