"""The offline dashboard page and its icon; its JS and CSS are served from ``service/static``."""

from __future__ import annotations

import struct
import zlib
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from service.deps import KnownQueryOnly
from service.routes.responses import errors

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
#: same-origin only: the page must work offline and must not pull code or fonts from anywhere else
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")

router = APIRouter(tags=["dashboard"], dependencies=[KnownQueryOnly])


@cache
def _page() -> bytes:
    return (STATIC_DIR / "dashboard.html").read_bytes()


@router.get("/dashboard", response_class=HTMLResponse, operation_id="getDashboard", responses=errors(422),
            summary="Dashboard (HTML; works offline)")
async def dashboard() -> HTMLResponse:
    return HTMLResponse(_page(), headers={"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"})


@router.get("/", operation_id="getRoot", include_in_schema=False)
async def root() -> RedirectResponse:
    """Someone opening the server's address in a browser wants the dashboard, not a 404 (relative, so it
    also works behind a proxy that mounts the app under a path)."""
    return RedirectResponse("dashboard", status_code=307)


@router.get("/favicon.ico", response_class=Response, operation_id="getFavicon", include_in_schema=False)
async def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page links; answer with the dashboard's icon, not a 404."""
    return Response(favicon_ico(), media_type="image/x-icon")


@cache
def favicon_ico() -> bytes:
    """A 32x32 icon (a rising line over a fan on the dashboard's blue), as a PNG inside an ICO container."""
    size = 32
    blue, band, white = (37, 99, 235, 255), (147, 180, 248, 255), (255, 255, 255, 255)
    rows = []
    for y in range(size):
        row = bytearray(b"\x00")  # PNG filter: none
        for x in range(size):
            line = size - 6 - (x * 2) // 3  # the forecast line rises left to right
            pixel = blue
            if x > 16 and abs(y - line) <= (x - 16) // 3 + 1:
                pixel = band
            if abs(y - line) <= 1 and 4 <= x <= size - 4:
                pixel = white
            row += bytes(pixel)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))
    header = struct.pack("<HHH", 0, 1, 1)
    entry = struct.pack("<BBBBHHII", size, size, 0, 0, 1, 32, len(png), 6 + 16)
    return header + entry + png
