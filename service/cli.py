"""The `chipcast` command: data, forecasting and serving subcommands in one place.

It lives in `service` because that package sits at the top of the dependency chain and may import the
other two; `pipelines` and `forecasting` each expose their own typer apps.
"""

from __future__ import annotations

from typing import Annotated

import typer

from forecasting.cli import register
from pipelines.cli import data_app

app = typer.Typer(help="chipcast: semiconductor supply-and-demand forecasts from real public data.",
                  no_args_is_help=True)
app.add_typer(data_app, name="data")
register(app)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """Serve the API (loads the `champion` model once at start-up)."""
    from service.main import run

    run(host, port)


if __name__ == "__main__":
    app()
