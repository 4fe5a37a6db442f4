"""A data scientist's tour of chipcast's Python API: the panel, a backtest, a forecast as of a date.

    .venv/bin/python examples/forecast_as_of.py

Runs on the embedded data in about a minute on 2 cores; nothing here is separate from what
`chipcast train` and the API serve.
"""

from __future__ import annotations

import json
from datetime import date

import polars as pl

from forecasting import api
from forecasting.engine import LocalEngine

# 1. The panel: every series, every print (a revised month has several rows, each with its release date).
panel = api.panel()
wsts = panel.filter(pl.col("unique_id") == "wsts_worldwide_sales", pl.col("ds") == date(2025, 12, 1))
print("December 2025 as printed in each release:\n", wsts.select("ds", "y", "published"))
print("as known on 2026-02-20:", api.panel(as_of=date(2026, 2, 20)).filter(
    pl.col("unique_id") == "wsts_worldwide_sales", pl.col("ds") == date(2025, 12, 1))["y"].to_list())

engine = LocalEngine(n_jobs=-1)  # statsforecast's process pool on every core

# 2. A backtest: every zoo model and the served combination, each origin on data as known then.
bt = api.backtest("capex_meta", engine=engine)
print(bt.leaderboard.filter(pl.col("horizon") == 4).sort("mase").select(
    "model", "mase", "coverage_80", "coverage_95", "weight", "windows"))
print(bt.cv().head())  # Nixtla CV frame: unique_id, ds, cutoff, y, Combination, Combination-lo-80, ...

# 3. A forecast as it would have been made on a past date (true vintages for WSTS).
res = api.forecast("wsts_worldwide_sales", as_of=date(2019, 12, 3), h=24, engine=engine)
print(res.frame.head())  # unique_id, ds, forecast, forecast-lo-80, forecast-hi-80, forecast-lo-95, ...
for year in res.outlook:  # a figure is None where it is missing (no prior year for a growth rate, say)
    value = "n/a" if year.value is None else round(year.value, 1)
    growth = "n/a" if year.growth_pct is None else f"{year.growth_pct:+.1f}%"
    print(year.year, value, growth, f"{year.published_periods} published")
print(json.dumps(api.to_dict(res)["method"]["backtest"], indent=2))
