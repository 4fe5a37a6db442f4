"""The MLflow pyfunc flavor of a chipcast model: one request row in, the API's forecast shape out.

Each input row is a request config, as in mlforecast's flavor: ``unique_id``, ``h`` (optional, default: the
series' default horizon) and ``level`` (optional, e.g. ``"80,95"``). The params ``h`` and ``level`` give the
defaults for rows that leave them out. The output has one row per forecast point with the same field
names as the API and the CLI (``series_id``, ``ds``, ``value``, ``intervals``), because all three are
produced by :func:`forecasting.result.to_dict`. Loading reads parquet and JSON: no model is refitted and
nothing is unpickled.

:func:`signature` declares all of that (optional inputs, output schema, params with defaults), so the
registered model documents itself in the MLflow UI and ``mlflow.models.validate_serving_input``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types.schema import Array, ColSpec, Object, ParamSchema, ParamSpec, Property, Schema

from forecasting.artifact import Forecaster, ForecastRequestError
from forecasting.result import to_dict
from forecasting.targets import LEVELS

ALLOWED_COLUMNS = ("unique_id", "h", "level")
OUTPUT_COLUMNS = ("series_id", "ds", "value", "intervals")
DEFAULT_LEVEL = ",".join(str(lv) for lv in LEVELS)


def signature() -> ModelSignature:
    """Inputs (``h`` and ``level`` optional), outputs and params with their defaults."""
    inputs = Schema([ColSpec("string", "unique_id"), ColSpec("long", "h", required=False),
                     ColSpec("string", "level", required=False)])
    interval = Object([Property("level", "long"), Property("lo", "double", required=False),
                       Property("hi", "double", required=False)])
    outputs = Schema([ColSpec("string", "series_id"), ColSpec("string", "ds"),
                      ColSpec("double", "value", required=False), ColSpec(Array(interval), "intervals")])
    params = ParamSchema([ParamSpec("h", "long", None), ParamSpec("level", "string", DEFAULT_LEVEL)])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)


class ChipcastPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
    """Pyfunc over a saved Forecaster directory (the ``forecaster`` artifact)."""

    forecaster: Forecaster

    def load_context(self, context: Any) -> None:
        self.forecaster = Forecaster.load(Path(context.artifacts["forecaster"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict_requests(self.forecaster, model_input, params)


def _levels(value: Any) -> tuple[int, ...]:
    if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
        return LEVELS
    try:
        return tuple(int(x) for x in str(value).split(","))
    except ValueError:
        raise ForecastRequestError(f"level must be comma-separated integers such as '80,95', got '{value}'") from None


def _horizon(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ForecastRequestError(f"h must be an integer number of periods, got '{value}'") from None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def predict_requests(forecaster: Forecaster, model_input: pd.DataFrame,
                     params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Answer one-row-per-request configs; anything but ``unique_id[, h][, level]`` is refused clearly.

    ``params`` (``h``, ``level``) fill in what a row leaves out.
    """
    defaults = params or {}
    extra = set(model_input.columns) - set(ALLOWED_COLUMNS)
    if extra or "unique_id" not in model_input.columns:
        raise ForecastRequestError(
            f"input must have a unique_id column and optionally h and level (e.g. '80,95'); "
            f"got {list(model_input.columns)}"
        )
    rows: list[dict[str, Any]] = []
    for req in model_input.to_dict(orient="records"):
        h = req.get("h") if not _missing(req.get("h")) else defaults.get("h")
        level = req.get("level") if not _missing(req.get("level")) else defaults.get("level")
        result = forecaster.result(str(req["unique_id"]), _horizon(h), _levels(level))
        body = to_dict(result, include=("points",))
        rows += [{"series_id": body["series_id"], **p} for p in body["points"]]
    return pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))


def set_pyfunc_model() -> None:
    """Called by the models-from-code file when MLflow loads the model."""
    mlflow.models.set_model(ChipcastPyfunc())
