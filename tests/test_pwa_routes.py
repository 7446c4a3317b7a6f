"""The installable shell over real HTTP: hashed static files, the service worker, the manifest, the offline page."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import struct
from pathlib import Path

import httpx

from tests.fixtures import ROOT, Account, Server

STATIC = ROOT / "static"
_HASHED = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def _hashed_urls(html: str) -> list[str]:
    return _HASHED.findall(html)


def test_pages_link_hashed_assets_served_immutable(server: Server, account: Account) -> None:
    html = account.client.get("/clients/").text
    urls = _hashed_urls(html)
    css = next(u for u in urls if u.startswith("/static/app.") and u.endswith(".css"))
    scripts = [u for u in urls if u.endswith(".js")]
    assert any("/htmx.min." in u for u in scripts), urls
    assert any("/app-shell." in u for u in scripts), urls
    for url in urls:
        resp = httpx.get(server.url + url, headers={"accept-encoding": "identity"})
        assert resp.status_code == 200, url
        assert resp.headers["cache-control"] == "public, max-age=31536000, immutable", url
        # The name carries the first 10 hex characters of the SHA-256 of the bytes served under it.
        digest = url.rsplit(".", 2)[-2]
        assert hashlib.sha256(resp.content).hexdigest()[:10] == digest, url
    assert httpx.get(server.url + css).headers["content-type"].startswith("text/css")


def test_plain_names_still_work_with_a_short_cache(server: Server) -> None:
    resp = httpx.get(server.url + "/static/app.css")
    assert resp.status_code == 200
    assert resp.content == (STATIC / "app.css").read_bytes()
    assert resp.headers["cache-control"] == "public, max-age=300"
    licence = httpx.get(server.url + "/static/vendor/htmx-2.0.11/LICENSE")
    assert licence.status_code == 200
    assert "Zero-Clause BSD" in licence.text
    assert httpx.get(server.url + "/static/nope.css").status_code == 404
    assert httpx.get(server.url + "/static/vendor/..%2F..%2Fpyproject.toml").status_code == 404
    assert httpx.get(server.url + "/static/app.0123456789.css").status_code == 404  # another deploy's name


def test_static_files_are_gzipped_and_revalidate(server: Server) -> None:
    resp = httpx.get(server.url + "/static/vendor/htmx-2.0.11/htmx.min.js", headers={"accept-encoding": "gzip"})
    assert resp.headers["content-encoding"] == "gzip"
    again = httpx.get(server.url + "/static/app.css", headers={"if-none-match": resp.headers["etag"]})
    assert again.status_code == 200  # another file's ETag does not match
    css = httpx.get(server.url + "/static/app.css")
    assert httpx.get(server.url + "/static/app.css", headers={"if-none-match": css.headers["etag"]}).status_code == 304


def test_service_worker_script_and_precache(server: Server, account: Account) -> None:
    resp = httpx.get(server.url + "/sw.js")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-cache"
    assert resp.headers["content-type"].startswith("text/javascript")
    first_line, _, source = resp.text.partition("\n")
    assert source == (ROOT / "sw" / "sw.js").read_text()
    assert 'importScripts("/sw-outbox.js", "/sw-book.js")' in source
    config = json.loads(first_line.removeprefix("self.SHELL = ").removesuffix(";"))
    assert re.fullmatch(r"[0-9a-f]{10}", config["version"])
    assert config["offline"] == "/offline"
    # The precache holds exactly the hashed files the pages link (and no licence or notes).
    page_assets = set(_hashed_urls(account.client.get("/clients/").text))
    assert page_assets <= set(config["precache"]), page_assets - set(config["precache"])
    assert not any("LICENSE" in u or u.endswith(".md") for u in config["precache"])
    for url in config["precache"]:
        assert httpx.get(server.url + url).status_code == 200, url

    outbox = httpx.get(server.url + "/sw-outbox.js")
    assert outbox.status_code == 200
    assert outbox.headers["cache-control"] == "no-cache"
    assert outbox.content == (ROOT / "sw" / "outbox.js").read_bytes()
    assert "WedSyncOutbox" in outbox.text
    book = httpx.get(server.url + "/sw-book.js")
    assert book.status_code == 200
    assert book.headers["cache-control"] == "no-cache"
    assert book.content == (ROOT / "sw" / "book.js").read_bytes()


def test_service_worker_version_follows_every_shell_file(tmp_path: Path) -> None:
    import shutil

    from webapp.assets import AssetManifest

    static = shutil.copytree(STATIC, tmp_path / "static")
    sw = shutil.copytree(ROOT / "sw", tmp_path / "sw")
    sources = [sw / "sw.js", sw / "outbox.js", sw / "book.js"]
    before = AssetManifest(static, sources)
    assert AssetManifest(static, sources).version == before.version  # deterministic across processes
    (static / "app.css").write_text((static / "app.css").read_text() + "\n/* deploy 2 */\n")
    after_css = AssetManifest(static, sources)
    assert after_css.version != before.version
    assert after_css.url("app.css") != before.url("app.css")
    assert after_css.url("app-shell.js") == before.url("app-shell.js")
    (sw / "outbox.js").write_text((sw / "outbox.js").read_text() + "\n// outbox 2\n")
    after_outbox = AssetManifest(static, sources)
    assert after_outbox.version != after_css.version
    (sw / "book.js").write_text((sw / "book.js").read_text() + "\n// book 2\n")
    assert AssetManifest(static, sources).version != after_outbox.version


def test_web_app_manifest(server: Server) -> None:
    resp = httpx.get(server.url + "/manifest.webmanifest")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/manifest+json")
    manifest = resp.json()
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#5b3f8c"
    assert manifest["start_url"] == "/"
    assert manifest["scope"] == "/"
    assert manifest["name"] == "WedSync Hub"
    assert manifest["short_name"]
    purposes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes
    [svg] = [icon for icon in manifest["icons"] if icon["type"] == "image/svg+xml"]
    assert (svg["sizes"], svg["purpose"]) == ("any", "any")
    assert httpx.get(server.url + svg["src"]).text.startswith("<svg")
    for icon in manifest["icons"]:
        if icon["type"] != "image/png":
            continue
        png = httpx.get(server.url + icon["src"])
        assert png.headers["content-type"] == "image/png"
        assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png.content[16:24])
        assert f"{width}x{height}" == icon["sizes"], icon


def test_offline_page_says_what_works(server: Server) -> None:
    resp = httpx.get(server.url + "/offline")
    assert resp.status_code == 200
    assert resp.headers["cache-control"] == "no-cache"
    assert "You're offline" in resp.text
    assert "What works offline" in resp.text
    assert 'rel="manifest" href="/manifest.webmanifest"' in resp.text


def test_pages_allow_the_worker_and_manifest(server: Server) -> None:
    csp = httpx.get(server.url + "/login").headers["content-security-policy"]
    assert "worker-src 'self'" in csp
    assert "manifest-src 'self'" in csp


def test_gzip_sizes_of_page_scripts_fit_the_budget(server: Server, account: Account) -> None:
    """Not a speed test: a size check on the bytes the client list links (the budget itself is in make bench)."""
    urls = [u for u in _hashed_urls(account.client.get("/clients/").text) if u.endswith(".js")]
    total = sum(len(gzip.compress(httpx.get(server.url + u).content, 9)) for u in urls)
    assert total <= 25 * 1024, (total, urls)


def test_head_requests_on_static_files(server: Server) -> None:
    full = httpx.get(server.url + "/static/app.css", headers={"accept-encoding": "identity"})
    head = httpx.head(server.url + "/static/app.css")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(full.content))
    assert head.headers["etag"] == full.headers["etag"]
    assert httpx.head(server.url + "/static/nope.css").status_code == 404
