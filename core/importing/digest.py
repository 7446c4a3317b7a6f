"""Re-imports skip the rows they imported before, unchanged, without cleaning them again.

Each client a file import writes keeps ``import_digest``: a keyed BLAKE2b digest of the raw row it was cleaned
from. The key covers everything else that decides what a raw row cleans to: the column mapping, the file's date
order and default region, the source of the cleaning code and the versions of phonenumbers and email-validator.
So a row whose digest is stored for the studio's source cleans to that stored client, and the only work it needs
is to be counted as unchanged. Cleaning is most of a re-import's CPU (~15 µs a row; a digest costs ~1 µs).

Any other write to a client (a status change in the app) clears its digest, so a re-import writes the file's
values back over it exactly as before. A change of the cleaning code changes every key: the next import of each
file cleans every row once more and stores the new digests, with no new version for rows whose values held.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata
from pathlib import Path

import msgspec

from core.importing.mapping import Mapping
from core.importing.normalise import NormaliseContext

DIGEST_BYTES = 16
# The modules whose code decides what a row cleans to.
_CLEANING_MODULES = ("contact", "dates", "mapping", "names", "normalise", "records", "statuses", "text", "validate")
_encode = msgspec.msgpack.Encoder().encode


@functools.cache
def _cleaning_code() -> bytes:
    hasher = hashlib.blake2b()
    for module in _CLEANING_MODULES:
        hasher.update(Path(__file__).with_name(f"{module}.py").read_bytes())
    for package in ("phonenumbers", "email-validator"):
        hasher.update(f"{package}=={metadata.version(package)}".encode())
    return hasher.digest()


def cleaning_key(rules: Mapping, ctx: NormaliseContext) -> bytes:
    """The key of one import's digests: what, besides the row itself, decides the record it cleans to."""
    return hashlib.blake2b(_cleaning_code() + _encode((rules, ctx)), digest_size=32).digest()


class RowDigester:
    """Digests of raw rows under one key (~0.9 µs a row)."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._keyed = hashlib.blake2b(key=key, digest_size=DIGEST_BYTES)  # copied per row: no key set-up each time

    def __call__(self, values: dict[str, str]) -> bytes:
        hasher = self._keyed.copy()
        hasher.update(_encode(values))
        return hasher.digest()


class KnownRows:
    """One job's digester, the digests the studio's source already has (digest → external id) and, while there are
    any, the external ids this job has written, which a later row identical to a stored one must write again:
    the last row of a client in a file wins."""

    def __init__(self, key: bytes, stored: dict[bytes, str]) -> None:
        self.digest, self.stored = RowDigester(key), stored
        self.written: set[str] = set()


__all__ = ["DIGEST_BYTES", "KnownRows", "RowDigester", "cleaning_key"]
