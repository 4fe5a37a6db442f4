"""A small Python API for data scientists: the panel, a backtest, a forecast as of a date.

    from datetime import date
    from forecasting import api

    panel = api.panel()                                   # every series, every print (true vintages)
    bt = api.backtest("wsts_worldwide_sales")             # rolling-origin leaderboard + CV frame
    res = api.forecast("wsts_worldwide_sales", as_of=date(2019, 12, 3), h=24)
    res.frame                                             # unique_id, ds, forecast, forecast-lo-80, ...
    api.to_dict(res)                                      # the JSON the CLI and the API print

Everything here is the code ``chipcast train`` and the service run; nothing is a separate path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from forecasting.artifact import SeriesModel, precheck_request
from forecasting.data import NotEnoughDataError
from forecasting.engine import Engine
from forecasting.evaluation import Evaluation, cv_frame, evaluate_target, scored_origins
from forecasting.reconcile import served_with
from forecasting.result import ForecastResult, to_dict
from forecasting.targets import LEVELS, get_target
from forecasting.train import series_model, train
from forecasting.zoo import COMBINATION
from pipelines.catalog import get_spec
from pipelines.config import get_data_settings
from pipelines.panel import as_of as as_of_view
from pipelines.panel import load_panel
from pipelines.store import LocalStore

__all__ = ["Backtest", "backtest", "forecast", "panel", "to_dict"]


def panel(as_of: date | None = None, *, vintages: bool = True, data_dir: Path | None = None) -> pl.DataFrame:
    """The validated panel (snapshot + local store); with ``as_of``, only what was published by then."""
    settings = get_data_settings()
    p = load_panel(data_dir=data_dir or settings.data_dir, store=LocalStore(settings.store_dir), vintages=vintages)
    return as_of_view(p, as_of) if as_of else p


@dataclass
class Backtest:
    evaluation: Evaluation
    model: SeriesModel

    @property
    def leaderboard(self) -> pl.DataFrame:
        return self.model.leaderboard

    def cv(self, models: Sequence[str] = (COMBINATION,)) -> pl.DataFrame:
        """Nixtla CV frame of the scored origins (``unique_id, ds, cutoff, y, <model>, ...``)."""
        return cv_frame(self.evaluation, scored_origins(self.evaluation), list(models))


def backtest(series_id: str, *, as_of: date | None = None, engine: Engine | None = None,
             data_dir: Path | None = None) -> Backtest:
    """Evaluate one target on the data known on ``as_of`` (default today), every origin as of its own date."""
    when = as_of or date.today()
    p = panel(data_dir=data_dir)
    ev = evaluate_target(p, get_target(series_id), when, engine=engine)
    return Backtest(ev, series_model(ev, p, when))


def forecast(series_id: str, *, as_of: date | None = None, h: int | None = None,
             levels: Sequence[int] = LEVELS, engine: Engine | None = None,
             data_dir: Path | None = None) -> ForecastResult:
    """The served method's forecast of one target as it would have been made on ``as_of``.

    It is ``train()`` on what the target is served with (a capex total with its companies, the memory market
    with its makers, an annual total with its monthly series), so the numbers are the service's.
    """
    precheck_request(get_spec(series_id), h, levels, as_of)  # before minutes of training
    settings = get_data_settings()
    result = train(list(served_with(series_id)), data_dir=data_dir or settings.data_dir,
                   store=LocalStore(settings.store_dir), when=as_of, engine=engine)
    if series_id in result.skipped:
        raise NotEnoughDataError(result.skipped[series_id])
    return result.forecaster.result(series_id, h, levels)
