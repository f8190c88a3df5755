"""Small line charts as PNG, in pure Python (zlib + struct): no plotting library to install or import.

Why not matplotlib: importing it costs about a second of CPU and tens of MB, for a chart of a few hundred points
that a chat client shows at 500 px. This draws one panel per series (small multiples: each keeps its own scale,
so memory in MiB and restarts in units both stay readable), a tinted area under a 2 px line, light grid lines and
the panel's max/min/last values in a built-in 3x5 digit font. Labels in words (Chinese or English) stay in the
card's text, next to the image, where the platform renders them properly; the image has digits only.

Pure and bounded: at most MAX_SERIES panels of at most MAX_POINTS points (the newest kept), a fixed size, and
the result checked against MAX_PNG_BYTES. Rendering one 4-panel chart takes about 20 ms of CPU; callers on the
event loop still run it in a thread (`asyncio.to_thread`) since it is CPU work.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence

WIDTH = 560
PANEL_HEIGHT = 92
MAX_SERIES = 4
MAX_POINTS = 480
MAX_PNG_BYTES = 256 * 1024

# palette: 0 background, 1 grid, 2 text/axis, then (line, area tint) per series
_PALETTE = (
    (0xFF, 0xFF, 0xFF),
    (0xE6, 0xE8, 0xEB),
    (0x64, 0x6A, 0x73),
    (0x33, 0x70, 0xFF),
    (0xD6, 0xE2, 0xFF),
    (0xFF, 0x7D, 0x00),
    (0xFF, 0xE4, 0xCC),
    (0x00, 0xB4, 0x2A),
    (0xCC, 0xF0, 0xD4),
    (0xF5, 0x3F, 0x3F),
    (0xFD, 0xD9, 0xD9),
)
BG, GRID, INK = 0, 1, 2
# What the card's text calls each series' colour, in panel order (the caption lines start with these).
SERIES_MARKS = ("🔵", "🟠", "🟢", "🔴")

_GLYPHS = {
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001001001001",
    "8": "111101111101111",
    "9": "111101111001111",
    ".": "000000000000010",
    "-": "000000111000000",
    "k": "100101110101101",
    "M": "101111111101101",
    "G": "111100101101111",
    "%": "101001010100101",
    " ": "000000000000000",
}
_SCALE = 2
_GLYPH_W, _GLYPH_H = 3 * _SCALE, 5 * _SCALE
_LEFT = 58  # room for the y labels
_RIGHT = 8
_TOP = 8
_BOTTOM = 8


class ChartTooLarge(ValueError):
    pass


def compact(value: float) -> str:
    """A number in at most ~6 glyphs of the built-in font: 0.12, 3.4, 512, 12.3k, 1.5M."""
    if not math.isfinite(value):
        return "-"
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    v = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e4, "k")):
        if v >= limit:
            return f"{sign}{v / limit:.1f}{suffix}"
    if v >= 100:
        return f"{sign}{v:.0f}"
    if v >= 1:
        return f"{sign}{v:.1f}"
    return f"{sign}{v:.2f}"


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(width) for _ in range(height)]

    def put(self, x: int, y: int, color: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.rows[y][x] = color

    def hline(self, x0: int, x1: int, y: int, color: int) -> None:
        if 0 <= y < self.height:
            row = self.rows[y]
            for x in range(max(0, x0), min(self.width, x1 + 1)):
                row[x] = color

    def vline(self, x: int, y0: int, y1: int, color: int) -> None:
        lo, hi = min(y0, y1), max(y0, y1)
        for y in range(max(0, lo), min(self.height, hi + 1)):
            self.rows[y][x] = color

    def text(self, x: int, y: int, s: str, color: int) -> None:
        for i, ch in enumerate(s):
            bits = _GLYPHS.get(ch, _GLYPHS[" "])
            gx = x + i * (_GLYPH_W + _SCALE)
            for r in range(5):
                for c in range(3):
                    if bits[r * 3 + c] == "1":
                        for dy in range(_SCALE):
                            for dx in range(_SCALE):
                                self.put(gx + c * _SCALE + dx, y + r * _SCALE + dy, color)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)  # filter type 0 per row

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 3, 0, 0, 0)  # 8-bit palette
        palette = b"".join(bytes(c) for c in _PALETTE)
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"PLTE", palette)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def _panel(canvas: _Canvas, top: int, values: Sequence[float], index: int) -> None:
    line, tint = 3 + 2 * (index % 4), 4 + 2 * (index % 4)
    x0, x1 = _LEFT, canvas.width - _RIGHT
    y0, y1 = top + _TOP, top + PANEL_HEIGHT - _BOTTOM
    for frac in (0.0, 0.5, 1.0):
        canvas.hline(x0, x1, round(y0 + (y1 - y0) * frac), GRID)
    canvas.vline(x0, y0, y1, INK)
    points = [v for v in values if math.isfinite(v)][-MAX_POINTS:]
    if not points:
        canvas.text(8, (y0 + y1) // 2 - _GLYPH_H // 2, "-", INK)
        return
    lo, hi = min(points), max(points)
    if lo >= 0 and hi > 0 and lo < hi * 0.5:
        lo = 0.0  # a non-negative series mostly reads best from zero
    span = hi - lo or 1.0
    canvas.text(4, y0, compact(hi), INK)
    canvas.text(4, y1 - _GLYPH_H, compact(lo), INK)
    width = x1 - x0 - 2
    prev: int | None = None
    for i in range(width + 1):
        # the value at this column, interpolated between the two nearest samples
        pos = i / width * (len(points) - 1) if len(points) > 1 else 0.0
        a = int(pos)
        b = min(a + 1, len(points) - 1)
        v = points[a] + (points[b] - points[a]) * (pos - a)
        y = round(y1 - (v - lo) / span * (y1 - y0))
        x = x0 + 1 + i
        canvas.vline(x, y + 1, y1 - 1, tint)
        canvas.vline(x, prev if prev is not None else y, y, line)
        canvas.vline(x, y, y + 1, line)
        prev = y
    last = compact(points[-1])
    canvas.text(x1 - len(last) * (_GLYPH_W + _SCALE) - 2, y0 + 2, last, line)


def render_chart(series: Sequence[tuple[str, Sequence[float], str]], *, width: int = WIDTH) -> bytes:
    """One PNG with a panel per series (label, values oldest first, unit); labels and units are not drawn (the
    card's text names each panel, in panel order, with `SERIES_MARKS`). At most MAX_SERIES panels."""
    shown = list(series)[:MAX_SERIES]
    if not shown:
        raise ValueError("no series to draw")
    canvas = _Canvas(max(200, min(width, 1200)), PANEL_HEIGHT * len(shown))
    for i, (_label, values, _unit) in enumerate(shown):
        _panel(canvas, i * PANEL_HEIGHT, values, i)
    data = canvas.png()
    if len(data) > MAX_PNG_BYTES:  # cannot happen at these sizes; a guard against someone raising them
        raise ChartTooLarge(f"chart is {len(data)} bytes")
    return data
