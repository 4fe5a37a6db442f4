"""The series catalog and published history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from service import logic
from service.deps import MeterDep, PanelDep, ReadAccess, RuntimeDep, ServingDep
from service.http_cache import cached_json, wants_csv
from service.routes.responses import READ_ERRORS, errors
from service.schemas import HistoryResponse, IsoDate, OutputFormat, SeriesListResponse, TargetCurrency

router = APIRouter(prefix="/series", tags=["series"], dependencies=[ReadAccess])

SeriesId = Annotated[str, Path(description="catalog series id", examples=["wsts_worldwide_sales"])]


@router.get("", response_model=SeriesListResponse, operation_id="listSeries", responses=errors(*READ_ERRORS, 503),
            summary="List every catalog series with its latest figure and staleness, and modelled series")
async def list_series(
    serving: ServingDep,
    panel: PanelDep,
    runtime: RuntimeDep,
    forecast: Annotated[bool | None, Query(description="only series that are (true) or are not (false) forecast")]
    = None,
) -> Response:
    today = datetime.now(UTC).date()
    key = ("series", serving.loaded_at.isoformat(), today.isoformat(), str(forecast))
    return await cached_json(runtime.responses, key, lambda: logic.series_list(
        panel, serving.model, today, forecast, modelled=logic.modelled_series(serving.model)), on_demand=False)


@router.get(
    "/{series_id}/history",
    response_model=HistoryResponse,
    operation_id="getHistory",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"},
                                       "example": "ds,value,period_end,published\n2024-01-01,165.5,2024-12-31,"
                                                  "2025-02-07\n"}}},
        **errors(*READ_ERRORS, 404, 409, 503),
    },
    summary="Published observations of one series (JSON or CSV), optionally in US$",
)
async def history(
    series_id: SeriesId,
    request: Request,
    panel: PanelDep,
    runtime: RuntimeDep,
    serving: ServingDep,
    meter: MeterDep,
    start: Annotated[IsoDate | None, Query(description="first period start to include (YYYY-MM-DD); a start after "
                                                    "`end` selects nothing", examples=["2020-01-01"])] = None,
    end: Annotated[IsoDate | None, Query(description="last period start to include (YYYY-MM-DD)",
                                      examples=["2025-12-01"])] = None,
    fmt: Annotated[OutputFormat | None,
                   Query(alias="format", description="json (default) or csv; `Accept: text/csv` works too")] = None,
    currency: Annotated[TargetCurrency | None, Query(
        description="USD: a KRW or NT$ series converted at each period's month-average rate (Fed H.10); the "
                    "response states the conversion. A series that is not money answers 409")] = None,
) -> Response:
    csv = wants_csv(fmt, request)
    key = ("history", serving.loaded_at.isoformat(), series_id, str(start), str(end), "csv" if csv else "json",
           str(currency))

    def build() -> bytes | HistoryResponse:
        frame = logic.history_frame(panel, series_id, start, end)
        conversion = None
        if currency is not None:
            frame, conversion = logic.history_in_usd(frame, series_id, panel)
        if csv:
            return logic.history_csv(frame)
        return logic.history_response(frame, series_id, start, end, conversion)

    if csv:
        out = await meter.cached(runtime.responses, key, build, on_demand=currency is not None, media_type="text/csv")
        out.headers["Content-Disposition"] = f'inline; filename="{series_id[:64]}.csv"'
        return out
    return await meter.cached(runtime.responses, key, build, on_demand=currency is not None)
