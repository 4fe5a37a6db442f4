"""The `chipcast` command: data, forecasting and serving subcommands in one place.

It lives in `service` because that package sits at the top of the dependency chain and may import the
other two; `pipelines` and `forecasting` each expose their own typer apps.
"""

from __future__ import annotations

import typer

from pipelines.cli import data_app

app = typer.Typer(help="chipcast: semiconductor supply-and-demand forecasts from real public data.",
                  no_args_is_help=True)
app.add_typer(data_app, name="data")


if __name__ == "__main__":
    app()
