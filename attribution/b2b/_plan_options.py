"""The plan file's ``[tests.<channel>]`` and ``[risk]`` sections, read and checked: the channel
tests a plan runs (:mod:`attribution.b2b._plan_tests`) and the settings of its risk draws
(:mod:`attribution.b2b._plan_risk`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from attribution.b2b._shared import is_number
from attribution.exceptions import ConfigError, did_you_mean

__all__ = ["ChannelTest", "RiskSettings", "read_risk", "read_tests"]

_TEST_KEYS = {"start", "validation_days", "cost_per_mql", "cac", "mqls"}
_RISK_KEYS = {"inflation", "draws", "seed", "cost_shock", "shortfall"}
#: the longest validation window a channel test may have (ten years, in days)
MAX_DAYS = 3_650
#: the most draws the plan risk takes (10,000 x a few dozen channels x scenarios stays small)
MAX_DRAWS = 1_000_000


@dataclass(frozen=True)
class ChannelTest:
    """A channel a plan tests: from ``start`` for ``validation_days``, against its targets.

    Attributes
    ----------
    channel : str
        The data's channel name.
    start : date
        The first day of the test.
    validation_days : int
        The validation window: the go / no-go call is made ``validation_days`` after
        ``start``.
    cost_per_mql, cac : float or None
        Targets (at least one): the most an MQL, or a customer, may cost.
    mqls : float or None
        Optional target MQL volume over the validation window.
    """

    channel: str
    start: date
    validation_days: int
    cost_per_mql: float | None = None
    cac: float | None = None
    mqls: float | None = None

    def targets(self) -> dict[str, float]:
        """The targets the test gives, by name (``cost_per_mql``, ``cac``, ``mqls``)."""
        given = {"cost_per_mql": self.cost_per_mql, "cac": self.cac, "mqls": self.mqls}
        return {k: v for k, v in given.items() if v is not None}


@dataclass(frozen=True)
class RiskSettings:
    """How the plan risk draws (``[risk]`` of the plan file).

    Attributes
    ----------
    inflation : tuple of float
        Cost inflation drawn uniformly in ``[low, high]`` per draw, the same for every
        channel (default 15-20%, what growth leads plan for); a number is both ends.
    draws : int
        Number of draws (default 10,000).
    seed : int
        Seed of the draws (default 0): the same plan and data give the same probabilities.
    cost_shock : float
        The scenario "costs up a further X": every CAC times ``1 + cost_shock`` on top of
        the inflation (default 0.20).
    shortfall : float
        The scenario "a channel delivers half its projected customers": the share it
        delivers (default 0.5).
    """

    inflation: tuple[float, float] = (0.15, 0.20)
    draws: int = 10_000
    seed: int = 0
    cost_shock: float = 0.20
    shortfall: float = 0.5


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def read_tests(data: Any, fail: Callable[[str], ConfigError]) -> dict[str, ChannelTest]:
    """``[tests.<channel>]`` tables as :class:`ChannelTest` by channel."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise fail("[tests] must hold one table per channel: [tests.<channel>]")
    out: dict[str, ChannelTest] = {}
    for channel, spec in data.items():
        where = f"[tests.{channel}]"
        if not isinstance(spec, Mapping):
            raise fail(f"{where} must be a table (start, validation_days, cost_per_mql or cac)")
        for k in spec:
            if k not in _TEST_KEYS:
                raise fail(f"unknown key '{k}' in {where}; {did_you_mean(k, sorted(_TEST_KEYS))}")
        start = _as_date(spec.get("start"))
        if start is None:
            raise fail(f"{where} start must be a date (2025-06-01), got {spec.get('start')!r}")
        days = spec.get("validation_days")
        if not (isinstance(days, int) and not isinstance(days, bool) and 0 < days <= MAX_DAYS):
            raise fail(f"{where} validation_days must be a whole number of days in [1, "
                       f"{MAX_DAYS:,}] (30, 60, 90), got {days!r}")  # fmt: skip
        for k in ("cost_per_mql", "cac", "mqls"):
            if k in spec and not (is_number(spec[k]) and spec[k] > 0):
                raise fail(f"{where} {k} must be a number > 0, got {spec[k]!r}")
        if "cost_per_mql" not in spec and "cac" not in spec:
            raise fail(f"{where} needs a target: cost_per_mql or cac (or both)")
        out[str(channel)] = ChannelTest(
            channel=str(channel),
            start=start,
            validation_days=days,
            cost_per_mql=_float(spec.get("cost_per_mql")),
            cac=_float(spec.get("cac")),
            mqls=_float(spec.get("mqls")),
        )
    return out


def _float(x: Any) -> float | None:
    return None if x is None else float(x)


def read_risk(data: Any, fail: Callable[[str], ConfigError]) -> RiskSettings:
    """``[risk]`` as :class:`RiskSettings` (defaults for what it does not give)."""
    if data is None:
        return RiskSettings()
    if not isinstance(data, Mapping):
        raise fail("[risk] must be a table")
    for k in data:
        if k not in _RISK_KEYS:
            raise fail(f"unknown key '{k}' in [risk]; {did_you_mean(k, sorted(_RISK_KEYS))}")
    inflation = data.get("inflation", [0.15, 0.20])
    pair = inflation if isinstance(inflation, list) else [inflation]
    if not (
        len(pair) in (1, 2)
        and all(is_number(x) and 0 <= x < 10 for x in pair)
        and pair[0] <= pair[-1]
    ):
        raise fail(
            "[risk] inflation must be a share >= 0 (0.15) or [low, high] of them "
            f"([0.15, 0.20]), got {inflation!r}"
        )
    draws = data.get("draws", 10_000)
    if not (isinstance(draws, int) and not isinstance(draws, bool) and 1 <= draws <= MAX_DRAWS):
        raise fail(f"[risk] draws must be a whole number in [1, {MAX_DRAWS:,}], got {draws!r}")
    seed = data.get("seed", 0)
    if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
        raise fail(f"[risk] seed must be a whole number >= 0, got {seed!r}")
    shock = data.get("cost_shock", 0.20)
    if not (is_number(shock) and shock >= 0):
        raise fail(f"[risk] cost_shock must be a share >= 0 (0.20), got {shock!r}")
    short = data.get("shortfall", 0.5)
    if not (is_number(short) and 0 <= short < 1):
        raise fail(f"[risk] shortfall must be the share delivered, in [0, 1), got {short!r}")
    return RiskSettings(
        inflation=(float(pair[0]), float(pair[-1])),
        draws=draws,
        seed=seed,
        cost_shock=float(shock),
        shortfall=float(short),
    )
