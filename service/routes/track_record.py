"""The track record: what chipcast would have said then vs what happened (stored with the model)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from service import logic
from service.deps import ModelDep, ReadAccess, RuntimeDep
from service.http_cache import cached_json, wants_csv
from service.routes.responses import READ_ERRORS, errors
from service.schemas import OutputFormat, TrackRecordResponse

router = APIRouter(prefix="/track-record", tags=["track record"], dependencies=[ReadAccess])

CSV = {"text/csv": {"schema": {"type": "string"},
                    "example": "origin,last_observation,year,horizon,model,forecast_growth_pct,...\n"}}


@router.get("/{series_id}", response_model=TrackRecordResponse, operation_id="getTrackRecord",
            responses={200: {"content": CSV}, **errors(*READ_ERRORS, 404, 503)},
            summary="What we said at each 1 June and 1 December vs what happened (JSON or CSV)")
async def track_record(
    series_id: Annotated[str, Path(description="a series with a stored track record",
                                   examples=["wsts_worldwide_sales"])],
    request: Request,
    model: ModelDep,
    runtime: RuntimeDep,
    fmt: Annotated[OutputFormat | None,
                   Query(alias="format", description="json (default) or csv; `Accept: text/csv` works too")] = None,
) -> Response:
    csv = wants_csv(fmt, request)
    key = (model.version, model.run_id, "track-record", series_id, "csv" if csv else "json")
    if csv:
        return await cached_json(runtime.responses, key, lambda: logic.track_record_csv(model, series_id),
                                 media_type="text/csv")
    return await cached_json(runtime.responses, key, lambda: logic.track_record_response(model, series_id))
