"""A chipcast server for the live tests: ``python -m tests.service.live_app PORT MODEL`` (settings from CHIPCAST_*).

MODEL is ``none`` (no champion and no panel: starts in about a second; reads answer 503 once past the key
check and the rate limit) or ``slow:SECONDS`` (a champion for ``capex_meta`` trained on the embedded data,
whose every forecast first burns SECONDS of CPU in Python, holding the GIL as an expensive fit would; the
panel is the real one).

The app is served exactly as ``chipcast serve`` serves it. On code from before issue 13, which had no
``service.server``, it falls back to what ``chipcast serve`` did then: ``uvicorn.run`` with its defaults.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

from forecasting.serving import LoadedModel
from service.config import Settings
from service.main import create_app


def burn(seconds: float) -> None:
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1


def slow_champion(seconds: float) -> LoadedModel:
    from forecasting.train import train
    from pipelines.config import PROJECT_ROOT

    result = train(["capex_meta"], data_dir=PROJECT_ROOT / "data")
    forecaster = result.forecaster
    fast = forecaster.result

    def slow_result(*args: Any, **kwargs: Any) -> Any:
        burn(seconds)
        return fast(*args, **kwargs)

    forecaster.result = slow_result  # type: ignore[method-assign]
    return LoadedModel(forecaster=forecaster, version="1", run_id="live", alias="champion",
                       loaded_at=datetime.now(UTC).isoformat(), source="registry")


def main() -> None:
    port, model = int(sys.argv[1]), sys.argv[2]
    settings = Settings()
    if model == "none":
        def no_model() -> LoadedModel:
            raise RuntimeError("no model in this test server")

        def no_panel() -> Any:
            raise OSError("no panel in this test server")

        app = create_app(settings, model_loader=no_model, panel_loader=no_panel, models_lister=lambda: [],
                         retrainer=lambda: None)
    else:
        loaded = slow_champion(float(model.split(":", 1)[1]))
        app = create_app(settings, model_loader=lambda: loaded, models_lister=lambda: [], retrainer=lambda: None)
    try:
        from service.server import serve_app
    except ImportError:  # before issue 13
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
        return
    serve_app(app, settings, "127.0.0.1", port, log_level="warning")


if __name__ == "__main__":
    main()
