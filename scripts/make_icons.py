"""Draw the app icons (a white "W" monogram on the theme colour) as real PNGs, with only the standard library.

Pillow is not a dependency of the app, and three flat icons do not justify one: PNG is zlib-compressed RGBA rows
behind a signature and three chunks. Run ``python scripts/make_icons.py`` after changing the design.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from pathlib import Path

THEME = (0x5B, 0x3F, 0x8C)
WHITE = (255, 255, 255)
OUT = Path(__file__).resolve().parent.parent / "static" / "icons"
# The "W" as a polyline in a unit box, drawn with a round pen.
W = [(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]


def _png(size: int, pixels: bytearray) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    stride = size * 4
    raw = b"".join(b"\0" + bytes(pixels[y * stride : (y + 1) * stride]) for y in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _distance(px: float, py: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def draw(size: int, glyph: float, corner: float) -> bytes:
    """``glyph``: width of the W as a share of the icon; ``corner``: corner radius share (0 = full bleed)."""
    width, height, pen = glyph * size, glyph * size * 0.75, glyph * size * 0.11
    ox, oy = (size - width) / 2, (size - height) / 2
    points = [(ox + x * width, oy + y * height) for x, y in W]
    radius = corner * size
    pixels = bytearray(size * size * 4)
    for y in range(size):
        for x in range(size):
            cx, cy = x + 0.5, y + 0.5
            # Coverage of the rounded background (1 inside, 0 outside, a pixel of anti-aliasing at the edge).
            qx, qy = max(radius - cx, 0, cx - (size - radius)), max(radius - cy, 0, cy - (size - radius))
            bg = max(0.0, min(1.0, radius - math.hypot(qx, qy) + 0.5)) if radius and qx and qy else 1.0
            d = min(_distance(cx, cy, a, b) for a, b in itertools.pairwise(points))
            ink = max(0.0, min(1.0, pen / 2 - d + 0.5))
            rgb = [round(t * (1 - ink) + w * ink) for t, w in zip(THEME, WHITE, strict=True)]
            i = (y * size + x) * 4
            pixels[i : i + 4] = bytes([*rgb, round(255 * bg)])
    return _png(size, pixels)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "icon-192.png").write_bytes(draw(192, 0.6, 0.18))
    (OUT / "icon-512.png").write_bytes(draw(512, 0.6, 0.18))
    # Maskable: full bleed, and the W inside the central 80% circle that every mask shape keeps.
    (OUT / "maskable-512.png").write_bytes(draw(512, 0.46, 0.0))


if __name__ == "__main__":
    main()
