"""Connectors for the public APIs behind chipcast's data: FRED observations and SEC EDGAR companyfacts.

The connectors only fetch and reshape; they never fill gaps or guess. Their output is written as a plain
``date,value`` CSV so it goes through the same validated ingest path as a hand-supplied file, instead of
bypassing validation with a second, API-specific loader.

The ``httpx.Client`` is always injected, so callers own timeouts/retries and tests can serve recorded
responses through ``httpx.MockTransport`` without any network.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import polars as pl

FRED_URL = "https://api.stlouisfed.org/fred/series/observations"
EDGAR_URL = "https://data.sec.gov/api/xbrl/companyfacts/CIK{cik:010d}.json"

#: SEC central index keys of the hyperscalers whose capex chipcast tracks.
CIKS: dict[str, int] = {
    "MSFT": 789019,
    "GOOGL": 1652044,
    "AMZN": 1018724,
    "META": 1326801,
    "ORCL": 1341439,
}

#: FRED's marker for "no observation for this date".
FRED_MISSING = "."

#: Forms whose facts are audited/reviewed periodic figures; amendments supersede by ``filed`` date.
EDGAR_FORMS: frozenset[str] = frozenset({"10-Q", "10-K", "10-Q/A", "10-K/A"})

DEFAULT_CAPEX_TAGS: tuple[str, ...] = (
    "PaymentsToAcquirePropertyPlantAndEquipment",
    "PaymentsToAcquireProductiveAssets",
)

#: A fact spanning this many days is one fiscal quarter (13 weeks = 91 days, calendar quarters 89-92).
QUARTER_DAYS = (80, 100)
#: Longest duration still treated as fiscal year-to-date (a 53-week year is 371 days).
MAX_YTD_DAYS = 380

_FRED_SCHEMA: dict[str, pl.DataType] = {"ds": pl.Date(), "y": pl.Float64()}
_CAPEX_SCHEMA: dict[str, pl.DataType] = {"ds": pl.Date(), "y": pl.Float64(), "period_end": pl.Date()}


class ConnectorError(RuntimeError):
    """An API call or its payload could not be turned into data; nothing was returned or written.

    Messages name the series or CIK and the HTTP status, and never contain an API key, because they end
    up in logs and CI output.
    """


# --------------------------------------------------------------------------------------------- FRED


@dataclass(frozen=True)
class FredResult:
    """Observations plus the dates FRED marked missing (``"."``).

    The missing dates are returned rather than filled or silently dropped so a caller can tell "FRED has
    no value for this month" apart from "the connector lost a row".
    """

    df: pl.DataFrame
    missing: list[date]


def parse_fred_result(payload: Any, *, series_code: str | None = None) -> FredResult:
    """Parse a FRED ``series/observations`` JSON payload, keeping the dropped (missing) dates."""
    where = f"FRED series {series_code}" if series_code else "FRED payload"
    if not isinstance(payload, dict):
        raise ConnectorError(f"{where}: expected a JSON object, got {type(payload).__name__}")
    observations = payload.get("observations")
    if not isinstance(observations, list):
        raise ConnectorError(f"{where}: malformed payload, no 'observations' list")

    dates: list[date] = []
    values: list[float] = []
    missing: list[date] = []
    for i, obs in enumerate(observations):
        if not isinstance(obs, dict) or not isinstance(obs.get("date"), str) or not isinstance(obs.get("value"), str):
            raise ConnectorError(f"{where}: observation {i} lacks string 'date'/'value': {obs!r}")
        try:
            day = date.fromisoformat(obs["date"])
        except ValueError:
            raise ConnectorError(f"{where}: observation {i} has a bad date {obs['date']!r}") from None
        raw = obs["value"].strip()
        if raw == FRED_MISSING:
            missing.append(day)
            continue
        try:
            value = float(raw)
        except ValueError:
            raise ConnectorError(f"{where}: observation {obs['date']} has a non-numeric value {raw!r}") from None
        dates.append(day)
        values.append(value)

    repeated = sorted(d for d, n in Counter(dates + missing).items() if n > 1)
    if repeated:
        raise ConnectorError(f"{where}: malformed payload, date {repeated[0]} appears more than once")
    df = pl.DataFrame({"ds": dates, "y": values}, schema=_FRED_SCHEMA).sort("ds")
    return FredResult(df=df, missing=sorted(missing))


def parse_fred_observations(payload: Any) -> pl.DataFrame:
    """``ds``/``y`` frame of a FRED payload; use :func:`parse_fred_result` to also get missing dates."""
    return parse_fred_result(payload).df


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def fetch_fred_result(
    series_code: str,
    api_key: str,
    client: httpx.Client,
    *,
    start: date | None = None,
) -> FredResult:
    """Fetch one FRED series; see :class:`FredResult` for why missing dates are returned."""
    if not api_key or not api_key.strip():
        raise ConnectorError(f"FRED series {series_code}: no API key given (set a FRED API key)")
    params: dict[str, str] = {"series_id": series_code, "api_key": api_key, "file_type": "json"}
    if start is not None:
        params["observation_start"] = start.isoformat()
    try:
        response = client.get(FRED_URL, params=params)
    except httpx.HTTPError as exc:
        # ``from None``: httpx exceptions carry the request URL, whose query string holds the key.
        raise ConnectorError(
            f"FRED series {series_code}: request failed ({type(exc).__name__}: {_redact(str(exc), api_key)})"
        ) from None

    if response.status_code != 200:
        detail = ""
        with contextlib.suppress(ValueError):
            body = response.json()
            if isinstance(body, dict) and body.get("error_message"):
                detail = f": {_redact(str(body['error_message']), api_key)}"
        raise ConnectorError(f"FRED series {series_code}: HTTP {response.status_code}{detail}")
    try:
        payload = response.json()
    except ValueError:
        raise ConnectorError(f"FRED series {series_code}: response is not JSON") from None
    return parse_fred_result(payload, series_code=series_code)


def fetch_fred_observations(
    series_code: str,
    api_key: str,
    client: httpx.Client,
    *,
    start: date | None = None,
) -> pl.DataFrame:
    """``ds``/``y`` frame of one FRED series; ``"."`` rows are dropped (see :func:`fetch_fred_result`)."""
    return fetch_fred_result(series_code, api_key, client, start=start).df


# -------------------------------------------------------------------------------------------- EDGAR


def fetch_edgar_companyfacts(cik: int, user_agent: str, client: httpx.Client) -> dict[str, Any]:
    """Raw companyfacts JSON of one filer.

    SEC blocks requests without a descriptive ``User-Agent`` (name + contact e-mail), so it is required.
    """
    if isinstance(cik, bool) or not isinstance(cik, int) or cik <= 0:
        raise ConnectorError(f"EDGAR: CIK must be a positive integer, got {cik!r}")
    if not user_agent or not user_agent.strip():
        raise ConnectorError(f"EDGAR CIK {cik}: SEC requires a User-Agent (e.g. 'Name name@example.com')")
    url = EDGAR_URL.format(cik=cik)
    try:
        response = client.get(url, headers={"User-Agent": user_agent, "Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise ConnectorError(f"EDGAR CIK {cik}: request failed ({type(exc).__name__}: {exc})") from exc

    if response.status_code != 200:
        hint = {
            403: " (SEC refused the request; check the User-Agent and the 10 requests/s limit)",
            404: " (no companyfacts for this CIK)",
            429: " (rate limited by SEC)",
        }.get(response.status_code, "")
        raise ConnectorError(f"EDGAR CIK {cik}: HTTP {response.status_code}{hint}")
    try:
        payload = response.json()
    except ValueError:
        raise ConnectorError(f"EDGAR CIK {cik}: response is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("facts"), dict):
        raise ConnectorError(f"EDGAR CIK {cik}: malformed companyfacts payload, no 'facts' object")
    got = payload.get("cik")
    if got is not None and str(got).lstrip("0") != str(cik):
        raise ConnectorError(f"EDGAR CIK {cik}: response is for CIK {got}")
    return payload


def _edgar_where(payload: dict[str, Any]) -> str:
    name = payload.get("entityName")
    cik = payload.get("cik")
    if cik is not None:
        return f"EDGAR CIK {cik}" + (f" ({name})" if name else "")
    return "EDGAR payload"


def _capex_facts(payload: Any, tags: tuple[str, ...]) -> tuple[str, str, list[Any]]:
    """(where, tag, USD facts) of the first tag present, so parsing can name what it read."""
    if not isinstance(payload, dict):
        raise ConnectorError(f"EDGAR payload: expected a JSON object, got {type(payload).__name__}")
    where = _edgar_where(payload)
    facts = payload.get("facts")
    gaap = facts.get("us-gaap") if isinstance(facts, dict) else None
    if not isinstance(gaap, dict):
        raise ConnectorError(f"{where}: malformed payload, no facts['us-gaap'] object")
    tag = next((t for t in tags if t in gaap), None)
    if tag is None:
        raise ConnectorError(f"{where}: none of the tags {list(tags)} is reported")
    units = gaap[tag].get("units") if isinstance(gaap[tag], dict) else None
    usd = units.get("USD") if isinstance(units, dict) else None
    if not isinstance(usd, list):
        raise ConnectorError(f"{where}: tag {tag} has no units['USD'] list")
    return where, tag, usd


def parse_companyfacts_capex(
    payload: dict[str, Any],
    tags: tuple[str, ...] = DEFAULT_CAPEX_TAGS,
) -> pl.DataFrame:
    """Discrete fiscal-quarter capex (US$ millions) from a companyfacts payload.

    Cash-flow statements report fiscal year-to-date totals, so a quarter is YTD(n) - YTD(n-1) of the
    same fiscal year (same ``start``); a ~3-month fact is already a quarter. Periods are taken from
    ``start``/``end`` only: ``fy``/``fp`` describe the filing, which is a different year for the
    prior-year comparatives every 10-Q repeats. A period re-reported later (comparative, amendment)
    takes the latest ``filed`` value, as that is the company's current statement of it. A quarter is
    only derived when the previous YTD ends one quarter earlier; otherwise it stays a gap.

    ``ds`` is the first day of the calendar quarter containing the fiscal quarter's end, so off-calendar
    filers (Oracle, fiscal Q1 ending Aug 31) line up with calendar-quarter series.
    """
    where, tag, usd = _capex_facts(payload, tags)
    rows: list[dict[str, Any]] = []
    for i, fact in enumerate(usd):
        if not isinstance(fact, dict):
            raise ConnectorError(f"{where}: {tag} fact {i} is not an object")
        if fact.get("form") not in EDGAR_FORMS:
            continue
        try:
            start = date.fromisoformat(fact["start"])
            end = date.fromisoformat(fact["end"])
            filed = date.fromisoformat(fact["filed"])
            val = fact["val"]
            if isinstance(val, bool) or not isinstance(val, int | float):
                raise TypeError(f"val {val!r} is not a number")
        except (KeyError, TypeError, ValueError) as exc:
            raise ConnectorError(f"{where}: {tag} fact {i} is malformed ({exc!r}): {fact!r}") from None
        if end <= start:
            raise ConnectorError(f"{where}: {tag} fact {i} ends before it starts: {fact!r}")
        rows.append({"start": start, "end": end, "filed": filed, "accn": str(fact.get("accn", "")), "val": float(val)})
    if not rows:
        return pl.DataFrame(schema=_CAPEX_SCHEMA)

    days = (pl.col("end") - pl.col("start")).dt.total_days()
    gap = (pl.col("end") - pl.col("prev_end")).dt.total_days()
    lo, hi = QUARTER_DAYS
    facts = (
        pl.DataFrame(rows)
        .sort("filed", "accn")
        .unique(subset=["start", "end"], keep="last", maintain_order=True)
        .filter(days <= MAX_YTD_DAYS)
        .sort("start", "end")
        .with_columns(
            pl.col("end").shift(1).over("start").alias("prev_end"),
            pl.col("val").shift(1).over("start").alias("prev_val"),
            days.is_between(lo, hi).alias("direct"),
        )
    )
    quarters = (
        facts.with_columns(
            pl.when(pl.col("direct"))
            .then(pl.col("val"))
            .when(pl.col("prev_end").is_not_null() & gap.is_between(lo, hi))
            .then(pl.col("val") - pl.col("prev_val"))
            .otherwise(None)
            .alias("quarter")
        )
        .filter(pl.col("quarter").is_not_null())
        # a reported 3-month figure beats one derived by differencing; then the latest filing
        .sort("end", "direct", "filed")
        .unique(subset=["end"], keep="last", maintain_order=True)
        .select(
            pl.col("end").dt.truncate("1q").alias("ds"),
            (pl.col("quarter") / 1e6).alias("y"),
            pl.col("end").alias("period_end"),
        )
        .sort("ds")
    )
    dup = quarters.filter(pl.col("ds").is_duplicated())
    if dup.height:
        raise ConnectorError(
            f"{where}: {tag} has several fiscal quarters ending in the calendar quarter of "
            f"{dup['ds'][0]} (period ends {sorted(dup['period_end'].to_list())}); "
            "a fiscal-calendar change needs a decision, not a silent pick"
        )
    return quarters.cast(_CAPEX_SCHEMA)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------- output


def write_date_value_csv(df: pl.DataFrame, path: Path, *, period_end: bool = False) -> None:
    """Write ``ds``/``y`` as a ``date,value`` CSV for chipcast's validated ingest path; with ``period_end``
    also the fiscal period end (a third column, which ingest requires for a series on a fiscal calendar).

    Atomic (temp file in the same directory, then ``os.replace``) so a crash never leaves a half-written
    file for ingest to pick up. Nulls are refused here because ingest treats a blank value as an error.
    """
    missing = [c for c in ("ds", "y", *(["period_end"] if period_end else [])) if c not in df.columns]
    if missing:
        raise ValueError(f"write_date_value_csv: missing column(s) {missing}")
    if df.schema["ds"] != pl.Date:
        raise ValueError(f"write_date_value_csv: 'ds' must be pl.Date, got {df.schema['ds']}")
    if df["ds"].null_count() or df["y"].null_count():
        raise ValueError("write_date_value_csv: null ds/y; drop gaps instead of writing blanks")
    if period_end and df["period_end"].null_count():
        raise ValueError("write_date_value_csv: null period_end")
    extra = [pl.col("period_end").cast(pl.Date)] if period_end else []
    out = df.select(pl.col("ds").alias("date"), pl.col("y").cast(pl.Float64).alias("value"), *extra).sort("date")

    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        out.write_csv(tmp, date_format="%Y-%m-%d")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
