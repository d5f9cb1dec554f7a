"""Draw the app's icons (icon-192.png, icon-512.png) with the standard library only.

The mark: three candlesticks climbing to the right (green, red, green) on the app's dark
background. Everything sits inside the central 60 % so the icon survives any mask shape
("purpose": "maskable"). Run from anywhere: ``python3 mobile/icons/make_icons.py``.
"""

import struct
import zlib
from pathlib import Path

BACKGROUND = (15, 23, 42)
GREEN = (34, 197, 94)
RED = (239, 68, 68)

# (x0, y0, x1, y1, colour) in a unit square, y downwards: body and wick of each candle.
SHAPES = [
    (0.265, 0.46, 0.375, 0.68, GREEN),
    (0.314, 0.40, 0.326, 0.74, GREEN),
    (0.445, 0.42, 0.555, 0.58, RED),
    (0.494, 0.36, 0.506, 0.64, RED),
    (0.625, 0.26, 0.735, 0.50, GREEN),
    (0.674, 0.20, 0.686, 0.56, GREEN),
]
SAMPLES = 4  # supersampling per axis, for smooth edges


def pixel(x: int, y: int, size: int) -> tuple[int, int, int]:
    totals = [0, 0, 0]
    for sy in range(SAMPLES):
        for sx in range(SAMPLES):
            u = (x + (sx + 0.5) / SAMPLES) / size
            v = (y + (sy + 0.5) / SAMPLES) / size
            colour = BACKGROUND
            for x0, y0, x1, y1, fill in SHAPES:
                if x0 <= u <= x1 and y0 <= v <= y1:
                    colour = fill
            for i in range(3):
                totals[i] += colour[i]
    n = SAMPLES * SAMPLES
    return (totals[0] // n, totals[1] // n, totals[2] // n)


def png(size: int) -> bytes:
    rows = bytearray()
    for y in range(size):
        rows.append(0)  # filter: none
        for x in range(size):
            rows.extend(pixel(x, y, size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def main() -> None:
    here = Path(__file__).resolve().parent
    for size in (192, 512):
        (here / f"icon-{size}.png").write_bytes(png(size))


if __name__ == "__main__":
    main()
