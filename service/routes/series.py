"""The series catalog and published history."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from service import logic
from service.deps import PanelDep, ReadAccess, RuntimeDep, ServingDep
from service.http_cache import cached_json
from service.routes.responses import READ_ERRORS, errors
from service.schemas import HistoryResponse, SeriesListResponse

router = APIRouter(prefix="/series", tags=["series"], dependencies=[ReadAccess])

SeriesId = Annotated[str, Path(description="catalog series id", examples=["wsts_worldwide_sales"])]


@router.get("", response_model=SeriesListResponse, responses=errors(*READ_ERRORS, 503),
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
    responses={
        200: {"content": {"text/csv": {"example": "ds,value,period_end,published\n2024-01-01,165.5,2024-12-31,"
                                                  "2025-02-07\n"}}},
        **errors(*READ_ERRORS, 404, 422, 503),
    },
    summary="Published observations of one series (JSON or CSV)",
)
def history(
    series_id: SeriesId,
    panel: PanelDep,
    start: Annotated[date | None, Query(description="first period start to include", examples=["2020-01-01"])]
    = None,
    end: Annotated[date | None, Query(description="last period start to include", examples=["2025-12-01"])] = None,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format", description="json (default) or csv")] = "json",
) -> HistoryResponse | Response:
    frame = logic.history_frame(panel, series_id, start, end)
    if fmt == "csv":
        return Response(logic.history_csv(frame), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'inline; filename="{series_id}.csv"'})
    return logic.history_response(frame, series_id, start, end)
