"""The installable shell: web app manifest, service worker, offline page and content-hashed static files."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, head, post

from core import sources
from core.sources.base import TABLE_SUFFIXES
from webapp.assets import Asset, AssetManifest
from webapp.rendering import page

THEME_COLOUR = "#5b3f8c"
IMMUTABLE = "public, max-age=31536000, immutable"
# Plain (un-hashed) names still work for old bookmarks and tools, but may change at the next deploy.
SHORT = "public, max-age=300"
NO_CACHE = "no-cache"
OFFLINE_URL = "/offline"
# The outbox screen, precached signed out: "Save lead" offline lands there on a phone that never opened it online.
OUTBOX_URL = "/outbox"
# The app's empty layout, precached signed out: the offline client book's pages are made inside it (sw/book.js), so
# they have the same header, tab bar and icons as the server's.
LAYOUT_URL = "/shell"
# The phone's share sheet posts a file here (the manifest's share_target). The service worker answers it (sw/sw.js
# keeps the file and opens SHARED_URL, which uploads it with the page's CSRF token); the server only sees it on a
# phone where the worker is not running yet.
SHARE_URL = "/share"
SHARED_URL = "/imports/shared"
# What the share sheet offers WedSync for: the files the importer reads (core.sources), by suffix and by type.
SHARE_ACCEPT = [
    *sources.VCARD_SUFFIXES,
    "text/vcard",
    "text/x-vcard",
    "text/directory",
    *TABLE_SUFFIXES,
    "text/csv",
    "text/comma-separated-values",
    "text/tab-separated-values",
    "text/plain",
]


class ManifestIcon(msgspec.Struct):
    src: str
    sizes: str
    type: str
    purpose: str


class ManifestShortcut(msgspec.Struct):
    name: str
    short_name: str
    url: str
    icons: list[ManifestIcon]


class ManifestScreenshot(msgspec.Struct):
    src: str
    sizes: str
    type: str
    form_factor: str
    label: str


class ShareFile(msgspec.Struct):
    name: str
    accept: list[str]


class ShareParams(msgspec.Struct):
    files: list[ShareFile]
    title: str = "title"
    text: str = "text"


class ShareTarget(msgspec.Struct):
    action: str
    method: str
    enctype: str
    params: ShareParams


class WebAppManifest(msgspec.Struct):
    name: str
    short_name: str
    description: str
    id: str
    start_url: str
    scope: str
    display: str
    orientation: str
    theme_color: str
    background_color: str
    icons: list[ManifestIcon]
    shortcuts: list[ManifestShortcut]
    screenshots: list[ManifestScreenshot]
    share_target: ShareTarget


class ShellConfig(msgspec.Struct):
    """What the service worker learns from the server: put above ``sw/sw.js`` as ``self.SHELL``."""

    version: str
    precache: list[str]
    offline: str
    outbox: str
    layout: str


def assets(request: Request[Any, Any, Any]) -> AssetManifest:
    value = request.app.state["assets"]
    assert isinstance(value, AssetManifest)
    return value


def _not_modified(request: Request[Any, Any, Any], etag: str) -> bool:
    return etag in request.headers.get("if-none-match", "")


def _static_headers(asset: Asset, hashed: bool) -> dict[str, str]:
    return {"cache-control": IMMUTABLE if hashed else SHORT, "etag": f'"{asset.digest}"'}


@get("/static/{name:path}", name="static", skip_session=True, exclude_from_csrf=True, include_in_schema=False)
async def serve_static(request: Request[Any, Any, Any], name: str) -> Response[bytes]:
    found = assets(request).lookup(name.lstrip("/"))
    if found is None:
        # Plain text: the HTML error page needs the session, which static files skip.
        return Response(b"Not found", status_code=404, media_type="text/plain")
    asset, hashed = found
    headers = _static_headers(asset, hashed)
    if _not_modified(request, headers["etag"]):
        return Response(b"", status_code=304, headers=headers)
    return Response(asset.content, media_type=asset.media_type, headers=headers)


@head("/static/{name:path}", name="static_head", skip_session=True, exclude_from_csrf=True, include_in_schema=False)
async def serve_static_head(request: Request[Any, Any, Any], name: str) -> Response[None]:
    # Link checkers and caches ask with HEAD; Litestar's own static router answered it, so this one does too.
    found = assets(request).lookup(name.lstrip("/"))
    if found is None:
        return Response(None, status_code=404)
    asset, hashed = found
    headers = {**_static_headers(asset, hashed), "content-length": str(len(asset.content))}
    return Response(None, media_type=asset.media_type, headers=headers)


@get("/sw.js", name="service_worker", skip_session=True, exclude_from_csrf=True, include_in_schema=False)
async def serve_service_worker(request: Request[Any, Any, Any]) -> Response[bytes]:
    manifest = assets(request)
    config = ShellConfig(
        version=manifest.version, precache=manifest.shell(), offline=OFFLINE_URL, outbox=OUTBOX_URL, layout=LAYOUT_URL
    )
    # no-cache: browsers check the worker on every navigation (they cap its HTTP cache at 24 h anyway), so a
    # deploy reaches phones at their next page load.
    body = b"self.SHELL = " + msgspec.json.encode(config) + b";\n" + manifest.sw_sources["sw.js"]
    return Response(body, media_type="text/javascript; charset=utf-8", headers={"cache-control": NO_CACHE})


@get("/sw-outbox.js", name="service_worker_outbox", skip_session=True, exclude_from_csrf=True, include_in_schema=False)
async def serve_service_worker_outbox(request: Request[Any, Any, Any]) -> Response[bytes]:
    # The snapshot taken at start-up, the same bytes the worker's version was computed from.
    body = assets(request).sw_sources["outbox.js"]
    return Response(body, media_type="text/javascript; charset=utf-8", headers={"cache-control": NO_CACHE})


@get("/sw-book.js", name="service_worker_book", skip_session=True, exclude_from_csrf=True, include_in_schema=False)
async def serve_service_worker_book(request: Request[Any, Any, Any]) -> Response[bytes]:
    # The offline client book (sw/book.js), imported by the worker like the outbox.
    body = assets(request).sw_sources["book.js"]
    return Response(body, media_type="text/javascript; charset=utf-8", headers={"cache-control": NO_CACHE})


def _icon(src: str, size: int) -> ManifestIcon:
    return ManifestIcon(src, f"{size}x{size}", "image/png", "any")


def _screenshot(src: str, label: str) -> ManifestScreenshot:
    # Taken by Chromium at a 360 x 740 CSS px phone, one device pixel per CSS px (small files).
    return ManifestScreenshot(src, "360x740", "image/png", "narrow", label)


@get(
    "/manifest.webmanifest", name="web_app_manifest", skip_session=True, exclude_from_csrf=True, include_in_schema=False
)
async def serve_web_app_manifest(request: Request[Any, Any, Any]) -> Response[bytes]:
    url = assets(request).url
    manifest = WebAppManifest(
        name="WedSync Hub",
        short_name="WedSync",
        description="Your wedding clients, on your phone, even with no signal at the venue.",
        id="/",
        start_url="/",
        scope="/",
        display="standalone",
        orientation="portrait",
        theme_color=THEME_COLOUR,
        background_color="#ffffff",
        icons=[
            ManifestIcon(url("icons/icon.svg"), "any", "image/svg+xml", "any"),
            ManifestIcon(url("icons/icon-192.png"), "192x192", "image/png", "any"),
            ManifestIcon(url("icons/icon-512.png"), "512x512", "image/png", "any"),
            ManifestIcon(url("icons/maskable-512.png"), "512x512", "image/png", "maskable"),
        ],
        # A long press on the home-screen icon: the two things done at a venue.
        shortcuts=[
            ManifestShortcut("New lead", "New lead", "/clients/new", [_icon(url("icons/new-lead-96.png"), 96)]),
            ManifestShortcut("Search clients", "Search", "/clients/#search", [_icon(url("icons/search-96.png"), 96)]),
        ],
        # Shown by Android's install sheet: the app as it is, at a phone's width.
        screenshots=[
            _screenshot(url("screenshots/clients.png"), "Your couples, on your phone"),
            _screenshot(url("screenshots/import.png"), "An import's rows to fix, grouped and counted"),
        ],
        share_target=ShareTarget(
            action=SHARE_URL,
            method="POST",
            enctype="multipart/form-data",
            params=ShareParams(files=[ShareFile("file", SHARE_ACCEPT)]),
        ),
    )
    return Response(
        msgspec.json.encode(manifest), media_type="application/manifest+json", headers={"cache-control": NO_CACHE}
    )


@get(OFFLINE_URL, name="offline", include_in_schema=False)
async def show_offline(request: Request[Any, Any, Any]) -> Response[str]:
    # Precached by the service worker and shown for pages that were never saved; it must not hold anyone's data.
    return page(request, "offline.html", headers={"cache-control": NO_CACHE})


@get(LAYOUT_URL, name="layout_shell", include_in_schema=False)
async def show_layout_shell(request: Request[Any, Any, Any]) -> Response[str]:
    return page(request, "shell.html", headers={"cache-control": NO_CACHE}, layout_shell=True)


@post(SHARE_URL, name="share_target", exclude_from_csrf=True, include_in_schema=False)
async def receive_share(request: Request[Any, Any, Any]) -> Response[str]:
    """A share that reached the server: the service worker was not running yet (the first visit, or a browser
    without one). The post carries no CSRF token, so its file is not read, let alone imported: the photographer
    lands on the upload page, which asks for the file once more. 303: the browser follows it with a GET."""
    return Response("", status_code=303, headers={"location": SHARED_URL, "cache-control": "no-store"})
