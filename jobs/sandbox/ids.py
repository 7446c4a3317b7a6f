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


# The six records one job owns, in the order ``job_ids`` returns their ids.
SLOTS = (("job", 0), ("event", 0), ("person", 0), ("person", 1), ("jobcontact", 0), ("jobcontact", 1))
SLOT_INDEX = {key: n for n, key in enumerate(SLOTS)}
_HASH_BYTES = _HASH_BITS // 8

# Two characters (10 bits) per table lookup instead of one Python step per character: a
# 100,000-client import renders 600,000 ids.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_TIME_SHIFTS = tuple(range(40, -1, -10))  # 50 bits: the 48-bit time, 10 characters
_RAND_SHIFTS = tuple(range(70, -1, -10))  # 80 bits: kind, slot and hash, 16 characters


def _job_hashes(seed: int, job_index: int) -> bytes:
    """One keyed hash per job, cut into a 72-bit hash for each of its six records."""
    return hashlib.blake2b(f"{seed}:{job_index}".encode(), digest_size=_HASH_BYTES * len(SLOTS)).digest()


def _hash_at(hashes: bytes, n: int) -> int:
    return int.from_bytes(hashes[n * _HASH_BYTES : (n + 1) * _HASH_BYTES], "big")


def job_ids(seed: int, job_index: int, created_ms: int) -> tuple[str, ...]:
    """The ids of a job's six records (``SLOTS`` order), sharing its creation time."""
    when = "".join([_PAIRS[(created_ms >> shift) & 1023] for shift in _TIME_SHIFTS])
    hashes = _job_hashes(seed, job_index)
    made = []
    for n, (kind, slot) in enumerate(SLOTS):
        rand = (KIND_CODES[kind] << 76) | (slot << _HASH_BITS) | _hash_at(hashes, n)
        made.append(when + "".join([_PAIRS[(rand >> shift) & 1023] for shift in _RAND_SHIFTS]))
    return tuple(made)


def make_id(seed: int, kind: str, job_index: int, slot: int, created_ms: int) -> str:
    return job_ids(seed, job_index, created_ms)[SLOT_INDEX[kind, slot]]


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
    return _hash_at(_job_hashes(seed, job_index), SLOT_INDEX[kind, slot]) == hashed
