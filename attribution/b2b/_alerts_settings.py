"""The settings of the weekly alerts (``[alerts]`` of a config) and the metrics they test
(the rules are in :mod:`attribution.b2b._alerts`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from attribution.exceptions import ModelParameterError

__all__ = ["DEFAULT_THRESHOLDS", "AlertSettings", "Spec", "metric_specs"]

#: Per-metric thresholds by default, under any the user gives. Spend given by month is judged
#: once a month against months of history, where its own plan noise (~8% a month in the
#: sample world) puts a 30% rise near the edge: 3.25 (z 2.57 a month) finds 0.80 of the spend
#: scenario's rises at about one false alert a year on clean worlds (README, alerts).
DEFAULT_THRESHOLDS: Mapping[str, float] = {"spend": 3.25}


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of the weekly alerts (config ``[alerts]``; the rules are in
    :mod:`attribution.b2b._alerts`).

    Attributes
    ----------
    threshold : float
        z-score a week must reach (either direction the metric alerts in).
    thresholds : dict
        Per metric, its own ``threshold``, over :data:`DEFAULT_THRESHOLDS` (``spend`` 3.25
        unless given: ``threshold`` does not change it).
    min_change : float
        Smallest relative change of a volume, amount or cost that alerts (0.25 = 25%).
    min_points : float
        Smallest change of a rate that alerts, in rate units (0.05 = 5 points).
    min_volume : float
        Expected weekly count a volume or touch series needs before it can alert (a cost per
        lead needs half of it in leads that week).
    min_entrants : int
        Entrants a week's (or two weeks') step or win rate needs before it can alert.
    min_deals : int
        Closed deals a week's sales cycle needs before it can alert.
    min_spend : float
        Expected weekly spend a spend series needs before it can alert.
    trailing_weeks, min_history : int
        Weeks of baseline, and how many of them must hold a (mature) value.
    spend_trailing_weeks : int
        Weeks of baseline of a spend table given by month (at least ``trailing_weeks``; a
        third of them must hold a value): one value a month needs months of history.
    horizon_quantile : float
        Quantile of the time in a stage that sets its rate horizon.
    max_horizon_days : int
        Longest rate horizon.
    trend : bool
        Carry a robust trend forward (else a flat median level).
    settle_days : int or None
        Volumes, touches, costs per lead / MQL and the sales cycle are provisional in the
        weeks within this many days of the data's first and last day (entities there are
        still arriving in, or leaving, the export's window); ``None``: the funnel's own time
        to an outcome (see :func:`_time_to_outcome`); 0: counts are final when a week ends.
    mute : tuple of str
        ``metric`` (every channel), ``metric:channel`` or ``*:channel``: never alert.
    """

    threshold: float = 3.5
    thresholds: Mapping[str, float] = field(default_factory=dict)
    min_change: float = 0.25
    min_points: float = 0.05
    min_volume: float = 20.0
    min_entrants: int = 50
    min_deals: int = 10
    min_spend: float = 100.0
    trailing_weeks: int = 12
    min_history: int = 6
    spend_trailing_weeks: int = 39
    horizon_quantile: float = 0.9
    max_horizon_days: int = 120
    trend: bool = False
    settle_days: int | None = None
    mute: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        def bad(name: str, want: str) -> ModelParameterError:
            return ModelParameterError(
                f"The '{name}' setting of alerts ([alerts] in a config) must be {want}. "
                f"Got {getattr(self, name)!r}."
            )

        def number(v: Any) -> bool:
            return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)

        for name in ("threshold", "min_change", "min_points", "min_volume", "min_spend"):
            v = getattr(self, name)
            if not number(v) or v < 0 or (name == "threshold" and v == 0):
                raise bad(name, "a number > 0" if name == "threshold" else "a number >= 0")
        for name, low in (("min_entrants", 0), ("min_deals", 0), ("trailing_weeks", 3),
                          ("min_history", 2), ("max_horizon_days", 7),
                          ("spend_trailing_weeks", 3)):  # fmt: skip
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise bad(name, f"an int >= {low}")
        if self.min_history > self.trailing_weeks:
            raise bad("min_history", f"at most trailing_weeks ({self.trailing_weeks})")
        if not number(self.horizon_quantile) or not 0 < self.horizon_quantile <= 1:
            raise bad("horizon_quantile", "a number in (0, 1]")
        settle = self.settle_days
        if settle is not None and (not isinstance(settle, int) or isinstance(settle, bool)
                                   or settle < 0):  # fmt: skip
            raise bad("settle_days", "an int >= 0 (or left out: the longest step horizon)")
        if not isinstance(self.trend, bool):
            raise bad("trend", "true or false")
        if not isinstance(self.thresholds, Mapping) or not all(
            isinstance(k, str) and number(v) and v > 0 for k, v in self.thresholds.items()
        ):
            raise bad("thresholds", "a table of metric = a number > 0")
        mute = self.mute
        if isinstance(mute, str) or not all(isinstance(m, str) and m.strip() for m in mute):
            raise bad("mute", "a list of 'metric', 'metric:channel' or '*:channel'")
        object.__setattr__(self, "mute", tuple(m.strip() for m in mute))
        object.__setattr__(self, "thresholds", {**DEFAULT_THRESHOLDS, **self.thresholds})

    @classmethod
    def of(cls, value: AlertSettings | Mapping[str, Any] | None) -> AlertSettings:
        """``value`` as settings: settings as they are, a mapping of their fields (the
        config's ``[alerts]``; an unknown key is an error naming it), ``None`` the
        defaults."""
        if value is None:
            return cls()
        if isinstance(value, AlertSettings):
            return value
        known = set(cls.__dataclass_fields__)
        for key in value:
            if key not in known:
                raise ModelParameterError(
                    f"Unknown alerts setting {key!r} ([alerts] in a config); use one of "
                    f"{sorted(known)}."
                )
        given: dict[str, Any] = {k: (tuple(v) if k == "mute" else v) for k, v in value.items()}
        return cls(**given)


@dataclass(frozen=True)
class Spec:
    family: str
    stat: str  # count | rate | mean | amount | ratio
    directions: tuple[str, ...]
    label: str


def _label(stage: str) -> str:
    return stage.upper() if stage in ("mql", "sql", "sal") else stage.replace("_", " ")


def metric_specs(steps: Sequence[str]) -> dict[str, Spec]:
    """Every metric of the alerts, by name (the names depend on the funnel's ``steps``)."""
    s0, s1 = steps[0], steps[1]
    specs = {
        f"{s0}_volume": Spec("pipeline", "count", ("drop", "spike"), f"{_label(s0)} volume"),
        f"{s1}_volume": Spec("pipeline", "count", ("drop", "spike"), f"{_label(s1)} volume"),
    }
    for a, b in zip(steps[:-2], steps[1:-1], strict=False):
        label = f"{_label(a)} -> {_label(b)} rate"
        if (a, b) == ("mql", "sql"):
            label = "MQL -> SQL acceptance (lead quality)"
        specs[f"{a}_to_{b}"] = Spec("pipeline", "rate", ("drop",), label)
    specs["win_rate"] = Spec("pipeline", "rate", ("drop", "spike"), "win rate")
    specs["sales_cycle_days"] = Spec("pipeline", "mean", ("spike",), "sales cycle (days)")
    specs["touches"] = Spec("channel", "count", ("drop",), "touches delivered")
    specs["spend"] = Spec("channel", "amount", ("spike",), "spend")
    specs[f"cost_per_{s0}"] = Spec("channel", "ratio", ("spike",), f"cost per {_label(s0)}")
    specs[f"cost_per_{s1}"] = Spec("channel", "ratio", ("spike",), f"cost per {_label(s1)}")
    return specs
