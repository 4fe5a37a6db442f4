"""The offline dashboard page; its JS and CSS are served from ``service/static``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

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
