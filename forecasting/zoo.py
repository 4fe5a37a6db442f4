"""The model zoo: every candidate model is declared here, once.

A :class:`Candidate` says what a model is (builder, role, complexity). Before a
target is evaluated, each candidate is *resolved* against the shortest history it must serve into a
:class:`ModelSpec` (name + concrete, JSON-serialisable parameters). That one spec is used at every
rolling origin, stored with the trained artifact and is exactly what a refit builds: the configuration
that was scored is the configuration that is served (tested in ``tests/forecasting/test_zoo.py``).

Every model sees the target on its working scale (logs for positive series, see
``forecasting.data``), so "AutoETS" here is AutoETS on logs, one of the plain references the README reports.

Adding a model means adding one ``Candidate`` to :data:`ZOO` (and, if it should join the served
combination, its name to a target's ``members`` in ``forecasting.targets``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from statsforecast.models import (
    AutoARIMA,
    AutoCES,
    AutoETS,
    AutoTheta,
    Naive,
    RandomWalkWithDrift,
    SeasonalNaive,
)

from pipelines.catalog import Frequency

Role = Literal["baseline", "reference", "member"]


@dataclass(frozen=True)
class FitContext:
    """What a configuration is resolved against: the cadence and the shortest history it must fit."""

    frequency: Frequency
    n_obs: int

    @property
    def season_length(self) -> int:
        """The seasonal period if the shortest history holds three full years of it, else 1 (no season)."""
        m = self.frequency.periods_per_year
        return m if m > 1 and self.n_obs >= 3 * m else 1


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model: the zoo name plus its concrete parameters (what is scored and what is served)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        """A fresh statsforecast model for this spec, aliased with the zoo name."""
        return ZOO[self.name].factory(**dict(self.params), alias=self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        name = str(d["name"])
        if name not in ZOO:
            raise KeyError(f"model '{name}' is not in the zoo; known models: {', '.join(ZOO)}")
        return cls(name, dict(d.get("params") or {}))


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    role: Role
    #: simpler models rank first when scores tie
    complexity: int
    factory: Callable[..., Any]
    resolve: Callable[[FitContext], dict[str, Any] | None]

    def spec(self, ctx: FitContext) -> ModelSpec | None:
        """The configuration for this context, or None if the model does not apply (e.g. no season)."""
        params = self.resolve(ctx)
        return None if params is None else ModelSpec(self.name, params)


def _no_params(ctx: FitContext) -> dict[str, Any]:
    return {}


def _seasonal_only(ctx: FitContext) -> dict[str, Any] | None:
    m = ctx.frequency.periods_per_year
    return {"season_length": m} if m > 1 and ctx.n_obs > m else None


def _season(ctx: FitContext) -> dict[str, Any]:
    return {"season_length": ctx.season_length}


def _arima(ctx: FitContext) -> dict[str, Any]:
    # small orders and the CSS approximation keep ~150 rolling origins per series affordable on 2 cores;
    # at most one difference: on logs, a second one extrapolates an acceleration of growth forever
    return {"season_length": ctx.season_length, "max_p": 2, "max_q": 2, "max_P": 1, "max_Q": 1,
            "max_d": 1, "approximation": True}


ZOO: dict[str, Candidate] = {
    c.name: c
    for c in [
        Candidate("Naive", "last value carried forward", "baseline", 0, Naive, _no_params),
        Candidate("SeasonalNaive", "value one year earlier", "baseline", 1, SeasonalNaive, _seasonal_only),
        Candidate("RWD", "random walk with drift (on logs: constant growth)", "reference", 2,
                  RandomWalkWithDrift, _no_params),
        Candidate("AutoTheta", "Theta method, automatic variant", "member", 3, AutoTheta, _season),
        # trends are damped (Gardner & McKenzie): on logs an undamped trend compounds a boom forever
        Candidate("AutoETS", "exponential smoothing state space, automatic, damped trend", "member", 4,
                  lambda **kw: AutoETS(model="ZZZ", damped=True, **kw), _season),
        Candidate("AutoCES", "complex exponential smoothing", "member", 5, AutoCES, _season),
        Candidate("AutoARIMA", "ARIMA with small orders, automatic", "member", 6, AutoARIMA, _arima),
        # the same AutoETS fitted without a target's nowcast months: the plain "AutoETS on logs" reference
        Candidate("PlainETS", "AutoETS on logs without the nowcast (plain reference)", "reference", 4,
                  lambda **kw: AutoETS(model="ZZZ", **kw), _season),
    ]
}

BASELINES: tuple[str, ...] = tuple(n for n, c in ZOO.items() if c.role == "baseline")
#: the served method's name in every table (never the name of one of its members)
COMBINATION = "Combination"


def resolve_specs(names: tuple[str, ...], ctx: FitContext) -> dict[str, ModelSpec]:
    """Specs of the named candidates that apply in ``ctx``, in zoo order."""
    unknown = [n for n in names if n not in ZOO]
    if unknown:
        raise KeyError(f"unknown model(s) {unknown}; the zoo has {', '.join(ZOO)}")
    out: dict[str, ModelSpec] = {}
    for name in ZOO:
        if name in names:
            spec = ZOO[name].spec(ctx)
            if spec is not None:
                out[name] = spec
    return out
