"""Operator routes: reload the champion, retrain in the background, poll jobs. Never open."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from service import logic
from service.deps import AdminAccess, RuntimeDep
from service.errors import ApiError
from service.routes.responses import errors
from service.schemas import JobResponse, ReloadResponse

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[AdminAccess])

ADMIN_ERRORS = (401, 403, 422, 429)


@router.post("/reload", response_model=ReloadResponse, operation_id="reloadModel",
             responses=errors(*ADMIN_ERRORS, 503, descriptions={
                 503: "The champion could not be loaded, or the registry is unreachable (the local copy of the last "
                      "champion is never swapped in over a served model): the served model is kept"}),
             summary="Load the current champion and swap it in (old model kept on failure)")
def reload(runtime: RuntimeDep) -> ReloadResponse:
    previous = runtime.holder.current.model
    serving = runtime.holder.reload()
    return logic.reload_response(serving, previous)


@router.post("/retrain", status_code=202, response_model=JobResponse, operation_id="startRetrain",
             responses=errors(*ADMIN_ERRORS, 409, 503, descriptions={
                 409: "A retrain job is already running",
                 503: "The job could not be started (no thread available); it is recorded as failed"}),
             summary="Start a background retrain (then reload); returns the job to poll")
def retrain(runtime: RuntimeDep) -> JobResponse:
    def reload_after() -> str:
        model = runtime.holder.reload().model
        return model.version if model else ""

    return logic.job_response(runtime.jobs.submit("retrain", runtime.retrainer, reload_after))


@router.get("/jobs/{job_id}", response_model=JobResponse, operation_id="getJob", responses=errors(*ADMIN_ERRORS, 404),
            summary="Status of a background job")
def job(job_id: Annotated[str, Path(description="id returned by POST /v1/admin/retrain")],
        runtime: RuntimeDep) -> JobResponse:
    found = runtime.jobs.get(job_id)
    if found is None:
        raise ApiError(404, "unknown_job", f"no job with id '{job_id[:64]}' (jobs are kept in memory only)")
    return logic.job_response(found)
