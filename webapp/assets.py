"""Content-hashed static files: one manifest computed at start-up from the files actually served.

Every file under ``static/`` is read once, hashed, and kept in memory. Pages link ``asset("app.css")`` →
``/static/app.<hash>.css``, which is served with a year-long immutable cache; the plain name keeps working with a
short cache. The service worker's precache list and its version come from the same manifest (plus the two service
worker sources), so a change to any shell file changes the worker and the precache together: a phone never mixes
files from two deploys.

Why a snapshot in memory rather than reading the disk per request: a hashed name must always serve the exact bytes
it was hashed from, even if someone edits a file while the server runs (the new bytes get a new name at the next
start). The whole directory is well under a megabyte.
"""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

import msgspec

from core.settings import PROJECT_ROOT, settings

HASH_CHARS = 10
# Served, but not part of the shell a phone needs offline (licences, notes, the unused SSE extension).
_NOT_SHELL_SUFFIXES = (".md", ".txt", "LICENSE")
_NOT_SHELL_NAMES = ("sse.min.js",)
# The manifest's screenshots are for the install sheet only: a phone never needs them offline.
_NOT_SHELL_DIRS = ("screenshots/",)
_TYPES = {".webmanifest": "application/manifest+json", ".js": "text/javascript", ".css": "text/css"}


class Asset(msgspec.Struct, frozen=True):
    path: str  # logical path under static/, e.g. "vendor/htmx-2.0.11/htmx.min.js"
    hashed: str  # e.g. "vendor/htmx-2.0.11/htmx.min.1a2b3c4d5e.js"
    digest: str
    media_type: str
    content: bytes


def static_dir() -> Path:
    # Tests point a server at a copy of static/ to play a deploy that changed one file (the update flow).
    return settings().static_dir


def sw_dir() -> Path:
    return PROJECT_ROOT / "sw"


def _hashed_name(path: str, digest: str) -> str:
    """``app.css`` → ``app.<hash>.css``: the hash goes right before the last extension, where tools expect it."""
    head, slash, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return f"{path}.{digest}"
    return f"{head}{slash}{stem}.{digest}.{ext}"


class AssetManifest:
    def __init__(self, root: Path, sw_sources: list[Path]) -> None:
        self.by_path: dict[str, Asset] = {}
        self.by_hashed: dict[str, Asset] = {}
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            content = file.read_bytes()
            digest = hashlib.sha256(content).hexdigest()[:HASH_CHARS]
            media_type = _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            if media_type.startswith("text/") or media_type.endswith(("json", "javascript")):
                media_type += "; charset=utf-8"
            asset = Asset(rel, _hashed_name(rel, digest), digest, media_type, content)
            self.by_path[rel] = asset
            self.by_hashed[asset.hashed] = asset
        self.sw_sources = {p.name: p.read_bytes() if p.exists() else b"" for p in sw_sources}
        version = hashlib.sha256()
        for asset in self.by_path.values():
            version.update(f"{asset.path}\0{asset.digest}\0".encode())
        for name, content in sorted(self.sw_sources.items()):
            version.update(f"{name}\0".encode() + hashlib.sha256(content).digest())
        self.version = version.hexdigest()[:HASH_CHARS]

    def url(self, path: str) -> str:
        """The immutable URL of a static file; a missing file is a bug in a template, so it fails loudly."""
        return "/static/" + self.by_path[path].hashed

    def lookup(self, name: str) -> tuple[Asset, bool] | None:
        """The asset for a requested name under /static/, and whether the name was the hashed (immutable) one."""
        if name in self.by_hashed:
            return self.by_hashed[name], True
        if name in self.by_path:
            return self.by_path[name], False
        return None

    def shell(self) -> list[str]:
        """Hashed URLs of everything a page needs to run offline: styles, scripts, icons."""
        return [
            "/static/" + a.hashed
            for a in self.by_path.values()
            if not a.path.endswith(_NOT_SHELL_SUFFIXES)
            and not a.path.startswith(_NOT_SHELL_DIRS)
            and a.path.rpartition("/")[2] not in _NOT_SHELL_NAMES
            and a.media_type.split(";")[0] in {"text/css", "text/javascript", "image/png", "image/svg+xml"}
        ]


def load_manifest() -> AssetManifest:
    return AssetManifest(static_dir(), [sw_dir() / "sw.js", sw_dir() / "outbox.js", sw_dir() / "book.js"])
