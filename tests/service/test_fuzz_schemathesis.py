"""Property-based fuzzing of every route in the live OpenAPI schema (schemathesis, in-process ASGI), with every check.

Two layers. ``test_every_phase_and_check`` runs schemathesis' own engine the way ``st run`` does (examples,
coverage, fuzzing and stateful phases, which follow the links from ``GET /v1/series`` to every ``{series_id}``
operation with real ids) with every check it has, for both champions, with reads open and behind keys, as a
reader and as an admin. ``test_route_conforms_to_schema`` fuzzes each operation on its own, with the same
checks, as described below. Nothing is excluded and no expected status is widened: a schema-valid request the
server refuses as invalid, a declared key that is not enforced, or a missing required header that is accepted
all fail the test.

The app is built exactly like the other service tests (injected registry callables), with a rate limit far
above anything the fuzzer sends and a fake retrainer, so ``POST /v1/admin/retrain`` never trains. Every
operation is fuzzed against both session champions (the basic one and the HBM one), each time once with a
read key and once with an admin key, with schema-valid (positive) and schema-violating (negative) requests
plus schema-valid ones that use real series/job ids (random strings almost never reach a 200). Checks: no
5xx, only documented status codes and content types, and bodies that match the documented response schema.

The operations are listed at collection time from an app whose loaders are never called (building the
OpenAPI document does not run the lifespan), so each one is its own test id. The cases are generated with
``APIOperation.as_strategy`` under a plain ``@given``: schemathesis' ``from_fixture`` pytest integration
reads ``Function._nodeid``, which pytest 9 no longer has.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import CHECKS as CHECK_REGISTRY
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status
from schemathesis.engine import events as engine_events

from forecasting.serving import LoadedModel
from pipelines.catalog import CATALOG
from service.main import create_app
from tests.service.conftest import ADMIN_KEY, READ_KEY, AppFactory, settings_for

load_all_checks()
#: every check schemathesis has (none left out): server errors, status codes, content types, headers and bodies
#: against the schema, schema-valid data accepted and schema-invalid data refused, required headers, methods,
#: auth actually enforced where declared, resources
#: every check schemathesis registers (its registry is typed wider than call_and_validate accepts)
CHECKS: list[Any] = list(CHECK_REGISTRY.get_all())
#: examples per operation, key and generation mode (schema-valid and schema-violating)
MAX_EXAMPLES = 30
#: examples per operation and key with known-good series/job ids and real scenario targets
KNOWN_ID_EXAMPLES = 15
KEYS = {"read": READ_KEY, "admin": ADMIN_KEY}


def _never_called() -> object:
    raise AssertionError("the collection-time app must never load anything")


def _operation_labels() -> list[str]:
    app = create_app(settings_for(), model_loader=_never_called,  # type: ignore[arg-type]
                     models_lister=_never_called, retrainer=_never_called,  # type: ignore[arg-type]
                     panel_loader=_never_called)  # type: ignore[arg-type]
    paths = app.openapi()["paths"]
    return [f"{method.upper()} {path}" for path, ops in paths.items() for method in ops]


OPERATIONS = _operation_labels()


class FakeRetrainer:
    """Stands in for ``retrain_and_register``: records the call, trains nothing."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1


@pytest.fixture
def fake_retrainer() -> FakeRetrainer:
    return FakeRetrainer()


@pytest.fixture(params=["champion", "hbm_champion"])
def champion(request: pytest.FixtureRequest) -> LoadedModel:
    """The service tests' two session champions: the basic one and the one with memory/HBM targets."""
    model: LoadedModel = request.getfixturevalue("loaded" if request.param == "champion" else "hbm_loaded")
    return model


@pytest.fixture
def served(champion: LoadedModel) -> list[str]:
    """Series ids the champion forecasts (HBM is served from its calibration, not a series model)."""
    return [*champion.forecaster.models, *(["hbm_revenue"] if champion.forecaster.hbm else [])]


@pytest.fixture
def fuzz_app(make_app: AppFactory, fake_retrainer: FakeRetrainer, champion: LoadedModel) -> Iterator[FastAPI]:
    # one client makes every request: lift the per-client limit far above what the fuzzer sends
    app = make_app(settings_for(rate_limit_per_minute=10_000_000), model_loader=lambda: champion,
                   retrainer=fake_retrainer)
    yield app
    from schemathesis.python import asgi

    # from_asgi started the lifespan and keeps it for the process; end it with the test
    asgi.shutdown_lifespans()


@pytest.fixture
def api_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    # from_asgi runs the lifespan (the champion is loaded) before the first call
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)


@pytest.fixture
def job_id(api_schema: schemathesis.BaseSchema, fuzz_app: FastAPI) -> str:
    """A job that exists, so the job route is fuzzed past its 404 too."""
    from schemathesis.python import asgi

    with asgi.get_client(cast(Any, fuzz_app)) as client:
        r = client.post("/v1/admin/retrain", headers={"X-API-Key": ADMIN_KEY})
    assert r.status_code == 202, r.text
    return str(r.json()["id"])


def _path_ids(operation: APIOperation, job_id: str, served: list[str]) -> dict[str, list[str]]:
    """Known-good values per path parameter: random strings alone almost never hit a served series."""
    names = set(re.findall(r"{(\w+)}", operation.path))
    ids: dict[str, list[str]] = {}
    if "series_id" in names:
        ids["series_id"] = sorted(CATALOG) if operation.path.startswith("/v1/series") else served
    if "job_id" in names:
        ids["job_id"] = [job_id]
    return ids


@st.composite
def _known_targets(draw: st.DrawFn, base: st.SearchStrategy[Case], served: list[str]) -> Case:
    """A schema-valid body whose ``targets`` (if the body has them) are real series ids, not random text."""
    case = draw(base)
    body: Any = case.body
    if isinstance(body, dict) and isinstance(body.get("targets"), list) and body["targets"]:
        n = len(body["targets"])
        ids = st.one_of(st.sampled_from(served), st.sampled_from(sorted(CATALOG)))
        targets: list[Any] = draw(st.lists(ids, min_size=n, max_size=n))
        case.body = {**body, "targets": targets}
    return case


def _with_path_parameter(operation: APIOperation, headers: dict[str, str],
                         name: str) -> Callable[[str], st.SearchStrategy[Case]]:
    def cases(value: str) -> st.SearchStrategy[Case]:
        return operation.as_strategy(GenerationMode.POSITIVE, headers=headers, path_parameters={name: value})

    return cases


def strategies(operation: APIOperation, key: str, job_id: str,
               served: list[str]) -> dict[str, tuple[st.SearchStrategy[Case], int]]:
    """Named case strategies with their example budgets: schema-valid, schema-violating, known ids."""
    headers = {"X-API-Key": key}
    found = {
        "positive": (operation.as_strategy(GenerationMode.POSITIVE, headers=headers), MAX_EXAMPLES),
        "negative": (operation.as_strategy(GenerationMode.NEGATIVE, headers=headers), MAX_EXAMPLES),
    }
    ids = _path_ids(operation, job_id, served)
    if ids:
        found["known ids"] = (st.one_of([
            st.sampled_from(values).flatmap(_with_path_parameter(operation, headers, name))
            for name, values in ids.items()
        ]), KNOWN_ID_EXAMPLES)
    if operation.method.upper() == "POST":
        found["known targets"] = (
            _known_targets(operation.as_strategy(GenerationMode.POSITIVE, headers=headers), served), KNOWN_ID_EXAMPLES
        )
    return found


def fuzz(schema: schemathesis.BaseSchema, label: str, key: str, job_id: str, served: list[str]) -> None:
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in the live schema"
    # OpenAPI matches a concrete path before a template: /v1/forecasts/hbm_revenue is its own operation with
    # its own response schema, so a {series_id} case that lands on it is not a case of this operation
    concrete = {path for path in schema.raw_schema["paths"] if "{" not in path} if "{" in operation.path else set()
    for mode, (cases, max_examples) in strategies(operation, key, job_id, served).items():
        try:
            _fuzz(cases.filter(lambda c: c.formatted_path not in concrete), max_examples)
        except Unsatisfiable:
            # an operation with no parameters and no body has nothing to make schema-invalid
            if mode != "negative":
                raise


def _fuzz(cases: st.SearchStrategy[Case], max_examples: int) -> None:
    @given(case=cases)
    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        case.call_and_validate(checks=CHECKS)

    run()


@pytest.mark.parametrize("role", list(KEYS))
@pytest.mark.parametrize("label", OPERATIONS)
def test_route_conforms_to_schema(api_schema: schemathesis.BaseSchema, job_id: str, served: list[str], label: str,
                                  role: str, fake_retrainer: FakeRetrainer) -> None:
    before = fake_retrainer.calls
    fuzz(api_schema, label, KEYS[role], job_id, served)
    if label != "POST /v1/admin/retrain":
        return
    if role == "read":
        assert fake_retrainer.calls == before, "a read key started a retrain"
        return
    deadline = time.monotonic() + 5  # the job runs the (fake) retrainer in a background thread
    while fake_retrainer.calls == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_retrainer.calls > before, "the admin key never started a (fake) retrain"


#: examples per operation and phase in the engine run (the whole run stays within about ten seconds)
ENGINE_EXAMPLES = 20


def run_engine(app: FastAPI, key: str) -> list[str]:
    """Every phase and check of schemathesis' engine against ``app``; returns the failures, one line each."""
    config = SchemathesisConfig.from_dict({
        "seed": 20261201,
        "headers": {"X-API-Key": key},
        "generation": {"max-examples": ENGINE_EXAMPLES, "deterministic": True, "database": "none"},
    })
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    failures: list[str] = []
    stop = None
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, engine_events.ScenarioFinished) and event.status == Status.FAILURE:
            for nodes in event.recorder.checks.values():
                for node in nodes:
                    if node.status == Status.FAILURE and node.failure_info is not None:
                        failures.append(f"{event.phase.value} {event.label}: {node.name}: "
                                        f"{node.failure_info.failure.title}\n{node.failure_info.code_sample}")
        elif isinstance(event, engine_events.NonFatalError | engine_events.FatalError):
            failures.append(f"engine error: {event}")
        elif isinstance(event, engine_events.EngineFinished):
            stop = event.stop_reason
    assert stop is not None and stop.value == "completed", stop
    return sorted(set(failures))


@pytest.mark.slow
@pytest.mark.parametrize(("role", "read_open"), [("read", True), ("read", False), ("admin", False)])
def test_every_phase_and_check(make_app: AppFactory, fake_retrainer: FakeRetrainer, champion: LoadedModel,
                               role: str, read_open: bool) -> None:
    """schemathesis' engine, all phases and all checks: reads declare the key optional while they are open
    (and are not flagged for accepting requests without one), require it when closed (a missing key is a 401),
    and every schema-valid request is accepted or refused only for what the series or the model holds."""
    app = make_app(settings_for(rate_limit_per_minute=10_000_000, read_open=read_open),
                   model_loader=lambda: champion, retrainer=fake_retrainer)
    try:
        failures = run_engine(app, KEYS[role])
    finally:
        from schemathesis.python import asgi

        asgi.shutdown_lifespans()
    assert failures == [], "\n\n".join(failures)
