"""The `chipcast` command: data, forecasting and serving subcommands in one place.

It lives in `service` because that package sits at the top of the dependency chain and may import the
other two; `pipelines` and `forecasting` each expose their own typer apps.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError

from forecasting.cli import register
from pipelines.cli import data_app
from service.config import Settings

app = typer.Typer(help="chipcast: semiconductor supply-and-demand forecasts from real public data.",
                  no_args_is_help=True)
app.add_typer(data_app, name="data")
register(app)


def _limit(name: str) -> str:
    """Help for a serve option from its setting: one description, one default, the variable that sets it."""
    field = Settings.model_fields[name]
    default = "none" if field.default_factory is not None else field.default
    return f"{field.description} (default {default}; env CHIPCAST_{name.upper()})"


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    max_body_bytes: Annotated[int | None, typer.Option(help=_limit("max_body_bytes"))] = None,
    max_header_bytes: Annotated[int | None, typer.Option(help=_limit("max_header_bytes"))] = None,
    max_url_bytes: Annotated[int | None, typer.Option(help=_limit("max_url_bytes"))] = None,
    header_timeout: Annotated[float | None, typer.Option(help=_limit("header_timeout"))] = None,
    body_timeout: Annotated[float | None, typer.Option(help=_limit("body_timeout"))] = None,
    keep_alive_timeout: Annotated[int | None, typer.Option(help=_limit("keep_alive_timeout"))] = None,
    max_connections: Annotated[int | None, typer.Option(help=_limit("max_connections"))] = None,
    compute_workers: Annotated[int | None, typer.Option(help=_limit("compute_workers"))] = None,
    compute_queue: Annotated[int | None, typer.Option(help=_limit("compute_queue"))] = None,
    trusted_proxy: Annotated[list[str] | None, typer.Option(
        help=_limit("trusted_proxies") + "; repeat the option for several")] = None,
) -> None:
    """Serve the API (loads the `champion` model once at start-up).

    Options left out come from the CHIPCAST_* environment variables (see the README, "Operating the service").
    """
    from service.main import run

    given: dict[str, Any] = {
        "max_body_bytes": max_body_bytes, "max_header_bytes": max_header_bytes, "max_url_bytes": max_url_bytes,
        "header_timeout": header_timeout, "body_timeout": body_timeout, "keep_alive_timeout": keep_alive_timeout,
        "max_connections": max_connections, "compute_workers": compute_workers, "compute_queue": compute_queue,
        "trusted_proxies": trusted_proxy,
    }
    try:
        settings = Settings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    run(host, port, settings)


if __name__ == "__main__":
    app()
