"""Render the app icons from ``static/icons/icon.svg`` (the one drawing: two interlinked rings and a spark on the
theme colour) into the PNGs the manifest and iOS need, with the Chromium the e2e tests already use.

- ``icon-192.png``, ``icon-512.png``: the drawing as it is, rounded corners on a transparent ground;
- ``maskable-512.png``: full bleed, the rings scaled into the central 80% circle every launcher mask keeps (also
  the apple-touch-icon: iOS rounds corners itself and paints transparent ones black);
- ``new-lead-96.png``, ``search-96.png``: the manifest shortcuts' icons, the tab bar's glyphs on the theme colour.

Why a browser rather than an SVG library: Playwright and Chromium are already installed for the tests, and render
the SVG exactly as the phone's browser will. ``pngquant`` (Debian package), when present, shrinks the PNGs about
8x with no visible change. Run ``python scripts/make_icons.py`` after changing ``icon.svg`` or the tab icons in
``templates/_icons.html``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "static" / "icons"
THEME = "#5b3f8c"
SAFE_ZONE = 0.8  # a maskable icon's content stays within a circle of 80% of its size (W3C manifest spec)


def _symbol(name: str) -> str:
    """A glyph of the inline sprite (templates/_icons.html), so the shortcuts match the tab bar."""
    sprite = (ROOT / "templates" / "_icons.html").read_text()
    found = re.search(rf'<symbol id="i-{name}" viewBox="0 0 24 24">(.*?)</symbol>', sprite)
    assert found, name
    return found.group(1)


def _maskable(svg: str) -> str:
    defs_end = svg.index("</defs>") + len("</defs>")
    drawing = re.sub(r"<rect [^>]*/>", "", svg[defs_end : svg.rindex("</svg>")])
    return (
        svg[:defs_end].replace("<title>WedSync Hub</title>", "")
        + '<rect width="512" height="512" fill="url(#bg)"/>'
        + f'<g transform="translate(256 256) scale({SAFE_ZONE}) translate(-256 -256)">{drawing}</g></svg>'
    )


def _shortcut(glyph: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96"><circle cx="48" cy="48" r="48" fill="{THEME}"/>'
        '<g transform="translate(24 24) scale(2)" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" '
        f'stroke-linejoin="round">{glyph}</g></svg>'
    )


def main() -> None:
    svg = (OUT / "icon.svg").read_text()
    renders = [
        ("icon-192.png", svg, 192),
        ("icon-512.png", svg, 512),
        ("maskable-512.png", _maskable(svg), 512),
        ("new-lead-96.png", _shortcut(_symbol("new")), 96),
        ("search-96.png", _shortcut(_symbol("search")), 96),
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        for name, source, size in renders:
            page = browser.new_page(viewport={"width": size, "height": size})
            sized = source.replace("<svg ", f'<svg width="{size}" height="{size}" ', 1)
            page.set_content(f'<body style="margin:0;background:transparent">{sized}</body>')
            page.screenshot(path=str(OUT / name), omit_background=True)
            page.close()
        browser.close()
    if shutil.which("pngquant"):
        for name, _, _ in renders:
            path = str(OUT / name)
            subprocess.run(
                ["pngquant", "--force", "--skip-if-larger", "--quality", "80-95", "--strip", "-o", path, path]
            )
    for name, _, size in renders:
        print(f"{name}: {size}x{size}, {(OUT / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
