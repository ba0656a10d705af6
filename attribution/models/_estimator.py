"""The declared contract of the learned path models (Markov, Shapley, counterfactual).

scikit-learn's conventions: ``__init__`` only stores keyword-only parameters; ``fit`` checks
them against the model's registry entry (:meth:`_validate_params`, the ``Param`` table of
:mod:`attribution.models._registry` is the one place their ranges are written), learns
trailing-underscore attributes and returns ``self``; a fitted attribute read before ``fit``, or
a method that needs one, raises :class:`~attribution.exceptions.NotFittedError`.

What the engine needs from a model is declared here, so a new model is one module (a
subclass of :class:`PathModel`) and one registry entry:

- :meth:`fit` and :meth:`allocate` (per-touch credit), ``channel_credit_``;

- :attr:`fits_sequences`: ``fit`` also takes :class:`~attribution.models._allocation.
  PathSequences` (the engine's coded journeys) instead of a path table;
- :meth:`extra_tables`: the fitted tables written beside the credit (named by
  :attr:`extra_table_attributes`);
- :meth:`graph`: the fitted model as a ``networkx.DiGraph``, or ``None`` (written as
  ``<label>_<graph_kind>``);
- :meth:`fit_notes`: the caveats of the fit, for the run's notes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import polars as pl

from attribution.exceptions import NotFittedError
from attribution.models._allocation import PathSequences, allocate_by_channel_weights
from attribution.models._registry import Param, get_model

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["ChannelWeightModel", "PathModel"]


class PathModel:
    """Base of MarkovModel, ShapleyModel and CounterfactualModel: the registry's
    parameters, the fitted check and what the engine reads."""

    #: the model's name in the registry; its ``Param``s are the parameters of ``__init__``
    registry_name: ClassVar[str]
    #: the attribute whose presence means the model is fitted: every ``fit`` sets it last
    _fitted_attribute: ClassVar[str] = "notes_"
    #: ``fit`` also takes :class:`attribution.models._allocation.PathSequences` (coded journeys)
    fits_sequences: ClassVar[bool] = False
    #: fitted DataFrame attributes that :meth:`extra_tables` returns, in this order
    extra_table_attributes: ClassVar[tuple[str, ...]] = ()
    #: what :meth:`graph` is, as the run's file names say it (``<label>_<graph_kind>.graphml``)
    graph_kind: ClassVar[str] = "graph"

    channel_credit_: pl.DataFrame
    notes_: list[str]

    def fit(self, paths: Any) -> Self:
        """Check the parameters, learn the fitted attributes (``channel_credit_``: ``channel``,
        ``conversions``, ``value``; ``notes_`` last) and return ``self``. ``paths``: a path
        table, or :class:`~attribution.models._allocation.PathSequences` when
        :attr:`fits_sequences`."""
        raise NotImplementedError

    def allocate(self, touches: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """The journey ``touches`` (``conversion_id``, ``position``, ``channel``, ...) with a
        ``credit`` column: each conversion's credit split over its touches, summing to 1."""
        raise NotImplementedError

    @classmethod
    def _params(cls) -> tuple[Param, ...]:
        return get_model(cls.registry_name).params

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of the model, as given to ``__init__``."""
        return {p.name: getattr(self, p.name) for p in self._params()}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _validate_params(self) -> None:
        """Hold each parameter to its registry ``Param`` (called first thing in ``fit``)."""
        for param in self._params():
            param.check(getattr(self, param.name), owner=type(self).__name__)

    def _is_fitted(self) -> bool:
        return self._fitted_attribute in vars(self)

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "a path table before using this estimator."
            )

    if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

        def __getattr__(self, name: str) -> Any:
            # Only called for attributes not found: a public trailing-underscore name read
            # before ``fit`` says so instead of a bare AttributeError.
            if name.endswith("_") and not name.startswith("_") and not self._is_fitted():
                self._check_fitted()
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    # ------------------------------------------------------------ what the engine reads
    def extra_tables(self) -> dict[str, pl.DataFrame]:
        """The fitted tables the engine writes beside the credit, by name without the
        trailing underscore (``{"removal_effects": ...}``); empty for a model with none."""
        self._check_fitted()
        return {name.rstrip("_"): getattr(self, name) for name in self.extra_table_attributes}

    def graph(self) -> nx.DiGraph[str] | None:
        """The fitted model as a ``networkx.DiGraph`` (the engine writes it as GraphML), or
        ``None`` for a model that is not a graph."""
        self._check_fitted()
        return None

    def fit_notes(self) -> list[str]:
        """Caveats of this fit (``notes_``), as the run's notes list them."""
        self._check_fitted()
        return list(self.notes_)


class ChannelWeightModel(PathModel):
    """A path model whose credit is one weight per channel (Markov's removal effects, Shapley
    values): it fits coded journeys and allocates by those weights."""

    fits_sequences = True

    channel_weights_: dict[str, float]
    total_conversions_: float
    total_value_: float

    def fit(self, paths: pl.DataFrame | pl.LazyFrame | PathSequences) -> Self:
        """Learn the channel weights and credit (see the class) from paths.

        Parameters
        ----------
        paths
            A path table: ``path`` (list[str], channels in time order) and ``conversions``;
            optional ``nulls`` and ``value``; rows may repeat a path. Or the same as
            :class:`~attribution.models._allocation.PathSequences` (what the engine passes,
            straight from its journeys).

        Returns
        -------
        Self
            ``self``, fitted.
        """
        self._validate_params()
        if not isinstance(paths, PathSequences):
            paths = PathSequences.from_table(paths, model=type(self).__name__)
        self._fit_sequences(paths)
        return self

    def _fit_sequences(self, paths: PathSequences) -> None:
        """The model's own fit, on checked parameters and coded paths; sets ``notes_`` last."""
        raise NotImplementedError

    def _set_channel_credit(
        self, channels: list[str], weights: np.ndarray, value_weights: np.ndarray
    ) -> None:
        """``channel_credit_``: the totals split in proportion to ``weights`` (conversions)
        and ``value_weights`` (value), none when they are all 0; ``channel_weights_``."""
        channel = pl.Series("channel", channels, dtype=pl.String)
        self.channel_credit_ = pl.DataFrame(
            {
                "channel": channel,
                "conversions": self.total_conversions_ * _shares(weights),
                "value": self.total_value_ * _shares(value_weights),
            },
            schema={"channel": pl.String, "conversions": pl.Float64, "value": pl.Float64},
        )
        self.channel_weights_ = dict(zip(channels, weights.tolist(), strict=True))

    def allocate(self, touches: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """Per-touch credit: each conversion split over its channels by ``channel_weights_``.

        See :func:`attribution.models._allocation.allocate_by_channel_weights`. These per-touch
        sums by channel differ from ``channel_credit_`` (the standard channel totals).
        """
        self._check_fitted()
        return allocate_by_channel_weights(touches, self.channel_weights_)


def _shares(weights: np.ndarray) -> np.ndarray:
    """``weights`` over their sum; all 0 when the sum is not positive (nothing converts)."""
    total = weights.sum()
    return weights / total if total > 0 else np.zeros_like(weights)
