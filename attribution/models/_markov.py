"""Markov-chain attribution (orders 1-4) with exact absorption probabilities.

The chain is built from a pre-aggregated path table with vectorised Polars / NumPy code
(no per-path or per-state Python loops; :mod:`attribution.models._markov_chain`), and every
probability is the solution of a sparse linear system, never a simulation:

- states are ``start``, one state per observed tuple of the last (up to) ``order``
  channels, and the absorbing ``conversion`` and ``null``;
- each path adds its weight (conversions + nulls) to every transition it makes and exits
  its last state to ``conversion`` (weight = conversions) and ``null`` (weight = nulls);
- ``P(conv)`` solves ``(I - Q) x = r`` (``Q`` transient -> transient probabilities, ``r``
  the one-step probabilities into ``conversion``) by sparse LU, or, for chains above
  2,000 states where LU fill-in becomes near dense, by GMRES accepted only under a
  certified error bound of 1e-12 relative (else sparse LU);
- the removal effect of channel ``c`` redirects every state containing ``c`` to ``null``,
  which is the same as solving the system restricted to the other states.

The choice of order by held-out AUC, :func:`select_order`, is
:mod:`attribution.models._markov_order` (re-exported here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.linalg import gmres, splu

from attribution.models._allocation import PathSequences
from attribution.models._estimator import ChannelWeightModel
from attribution.models._markov_chain import (
    CONVERSION,
    CONVERSION_CODE,
    MAX_CODE,
    NULL,
    NULL_CODE,
    START,
    START_CODE,
    STATES_SCHEMA,
    absorbing_states,
    check_channel_names,
    decode,
    reachable,
    state_labels,
    transition_counts,
)
from attribution.models._markov_order import select_order

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["NO_NULLS_NOTE", "MarkovModel", "select_order"]

NO_NULLS_NOTE: Final = "without null paths, results measure visit probability"

# Chains up to this many transient states are solved by sparse LU; larger ones by GMRES
# with a certified error bound (LU fill-in on large high-order chains is near dense).
_DIRECT_MAX_STATES: Final = 2000
_CERTIFIED_RTOL: Final = 1e-12


class _AbsorptionSolver:
    """Solve ``(I - Q) x = b`` (and its restrictions to subsets of states) exactly.

    Small systems use a sparse LU factorisation. Large ones use GMRES to machine
    precision and accept a solution only with a certified bound: ``I - Q`` is a
    non-singular M-matrix whose inverse ``N`` is non-negative with
    ``||N||_inf = max expected steps to absorption``, so ``||x - x*||_inf <=
    ||N||_inf * ||b - (I - Q) x||_inf``. Restricting to a subset of states (removal)
    only shortens absorption, so the bound of the full chain covers every removal.
    A solution whose bound exceeds ``1e-12`` times the full chain's value from
    ``start`` is refined, then recomputed by sparse LU.
    """

    def __init__(self, system: sp.csr_matrix) -> None:
        self.system = system.tocsr()
        n = system.shape[0]
        self.method = "sparse LU"
        self.inverse_norm = np.inf
        if n > _DIRECT_MAX_STATES:
            steps = self._gmres(self.system, np.ones(n))
            residual = np.abs(1.0 - self.system @ steps).max()
            if residual < 0.5:
                self.inverse_norm = np.abs(steps).max() / (1.0 - residual)
                self.method = "GMRES with certified error bound"

    @staticmethod
    def _gmres(matrix: sp.csr_matrix, b: np.ndarray) -> np.ndarray:
        x, _ = gmres(matrix, b, rtol=1e-15, atol=0.0, restart=50, maxiter=200)
        return np.asarray(x)

    def solve(
        self,
        rhs: np.ndarray,
        *,
        keep: np.ndarray | None = None,
        scale: np.ndarray | None = None,
    ) -> np.ndarray:
        """Solve for each column of ``rhs`` on the states ``keep`` (all by default).

        ``scale`` (per column) sets the accepted absolute error to ``1e-12 * scale``;
        by default the solution's own value at ``start`` (state 0).
        """
        matrix = self.system if keep is None else self.system[keep][:, keep]
        b = rhs if keep is None else rhs[keep]
        if not np.isfinite(self.inverse_norm):
            return np.asarray(splu(matrix.tocsc()).solve(b))
        out = np.zeros(b.shape)
        for j in range(b.shape[1]):
            if not b[:, j].any():
                continue
            x = self._gmres(matrix, b[:, j])
            ref = abs(x[0]) if scale is None else abs(scale[j])
            if not ref >= np.finfo(float).tiny:
                # No relative certificate is possible when the reference is zero or
                # subnormal (e.g. values of 5e-324, where GMRES may return x = 0): use LU.
                out[:, j] = splu(matrix.tocsc()).solve(b[:, j])
                continue
            tolerance = _CERTIFIED_RTOL * ref
            for refinement in range(4):
                residual = b[:, j] - matrix @ x
                if self.inverse_norm * np.abs(residual).max() <= tolerance:
                    break
                if refinement == 3:
                    return np.asarray(splu(matrix.tocsc()).solve(b))
                x = x + self._gmres(matrix, residual)
            out[:, j] = x
        return out


class MarkovModel(ChannelWeightModel):
    """Markov-chain attribution with exact removal effects.

    Parameters
    ----------
    order : int, default 1
        A state is the tuple of the last (up to) ``order`` channels, 1 to 4.
    collapse_repeats : bool, default True
        Collapse consecutive repeats of a channel before building states.
    use_nulls : bool, default True
        Use non-converting journeys. When False (or when the table has no nulls) every
        journey ends in ``conversion``, ``P(conv)`` is 1 and removal effects measure the
        probability of visiting a channel (see ``notes_``).

    Attributes
    ----------
    channels_ : list of str
        Channels of the path table, sorted.
    states_ : DataFrame
        ``state`` (label, e.g. ``"a > b"``), ``kind`` (``start``, ``channel``,
        ``conversion``, ``null``), ``channels`` (list[str]), ``conversion_probability``
        (absorption probability into ``conversion`` from the state) and
        ``end_conversion_rate`` (share of the journeys ending in the state that
        converted; null where none end there).
    transition_counts_ : DataFrame
        ``from``, ``to``, ``count`` (summed path weights).
    transition_matrix_ : DataFrame
        ``from``, ``to``, ``probability``; each non-absorbing state's row sums to 1.
    conversion_probability_ : float
        ``P(conv)`` from ``start``.
    expected_value_ : float
        Expected conversion value from ``start`` (``V``).
    removal_effects_ : DataFrame
        ``channel``, ``removal_effect``, ``value_removal_effect``.
    channel_credit_ : DataFrame
        ``channel``, ``conversions``, ``value`` (standard definition: totals split in
        proportion to the (value) removal effects).
    channel_weights_ : dict of str to float
        Channel -> removal effect, used by :meth:`allocate`.
    total_conversions_, total_value_ : float
        Totals of the journeys used by the chain.
    solver_ : str
        ``"sparse LU"`` (chains up to 2,000 states) or ``"GMRES with certified error
        bound"`` (every probability within 1e-12 relative of the exact solution).
    notes_ : list of str
        Caveats of this fit (dropped rows, no null paths, all-zero removal effects).

    Reading a fitted attribute before :meth:`fit` raises
    :class:`~attribution.exceptions.NotFittedError`. :meth:`extra_tables` holds
    ``removal_effects`` and ``transition_matrix``, :meth:`graph` the chain.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution.models import MarkovModel
    >>> paths = pl.DataFrame({
    ...     "path": [["a", "b"], ["b"], ["a"], ["c", "a", "b"]],
    ...     "conversions": [2.0, 1.0, 0.0, 1.0],
    ...     "nulls": [1.0, 2.0, 2.0, 0.0],
    ...     "value": [200.0, 50.0, 0.0, 100.0],
    ... })
    >>> model = MarkovModel().fit(paths)
    >>> round(model.conversion_probability_, 4)
    0.4444
    >>> model.channel_credit_["conversions"].round(6).to_list()
    [1.371429, 2.4, 0.228571]
    >>> model.fit_notes()
    ['solved with sparse LU']
    """

    registry_name = "markov"
    extra_table_attributes = ("removal_effects_", "transition_matrix_")
    graph_kind = "transition_graph"

    def __init__(
        self, *, order: int = 1, collapse_repeats: bool = True, use_nulls: bool = True
    ) -> None:
        self.order = order
        self.collapse_repeats = collapse_repeats
        self.use_nulls = use_nulls

    # ------------------------------------------------------------------ fit
    def _fit_sequences(self, paths: PathSequences) -> None:
        """Build the chain from coded paths and solve its removal effects and credit."""
        order = int(self.order)
        channels = paths.channels
        base = self._check_encoding(channels)
        numbers = paths.paths.select(
            "conversions",
            (pl.col("nulls") if self.use_nulls else pl.lit(0.0)).alias("nulls"),
            "value",
        ).with_columns((pl.col("conversions") + pl.col("nulls")).alias("weight"))
        positive = numbers.get_column("weight") > 0
        weighted = numbers.filter(positive)
        counts = None
        if weighted.height:
            touches = paths.touches if positive.all() else paths.touches_of(positive)
            counts = transition_counts(touches, numbers, order, base, self.collapse_repeats)
        self._fit_counts(
            counts,
            channels,
            conversions=float(weighted["conversions"].sum()),
            value=float(weighted["value"].sum()),
            nulls=float(weighted["nulls"].sum()),
            notes=list(paths.notes),
        )

    def _check_encoding(self, channels: list[str]) -> int:
        """The base of the state codes over ``channels`` (checked to fit)."""
        order = int(self.order)
        check_channel_names(channels, order, type(self).__name__)
        base = len(channels) + 1
        if base**order >= MAX_CODE:
            raise ValueError(
                f"MarkovModel cannot encode order-{order} states over {len(channels)} "
                "channels; lower 'order' or group rare channels."
            )
        return base

    def _fit_counts(
        self,
        counts: tuple[pl.DataFrame, pl.DataFrame] | None,
        channels: list[str],
        *,
        conversions: float,
        value: float,
        nulls: float,
        notes: list[str],
    ) -> None:
        """The fit from the chain's sufficient statistics: ``counts`` -- the transition
        counts and the exits per state of :func:`transition_counts` over the paths of
        positive weight, None when there is none -- and those paths' totals. Summed over
        paths, so a caller may keep them up to date as paths are added and removed (the
        incremental state does)."""
        order = int(self.order)
        base = self._check_encoding(channels)
        if not self.use_nulls:
            notes.append(f"use_nulls=False: {NO_NULLS_NOTE}.")
        elif counts is not None and nulls == 0:
            notes.append(f"the path table has no null paths: {NO_NULLS_NOTE}.")
        self.channels_ = channels
        self.total_conversions_ = conversions
        self.total_value_ = value
        if counts is None:
            notes.append("no path with a positive weight: the chain is empty.")
            self._fit_empty(channels)
            self.notes_ = notes
            return
        self._solve(*counts, channels, order, base)
        if not any(self.channel_weights_.values()):
            notes.append(
                "all removal effects are 0 (nothing converts): channel credit is 0 and "
                "allocate splits each journey equally over its distinct channels."
            )
        self.notes_ = notes

    def _solve(
        self,
        edges: pl.DataFrame,
        ends: pl.DataFrame,
        channels: list[str],
        order: int,
        base: int,
    ) -> None:
        src = edges["from"].to_numpy()
        dst = edges["to"].to_numpy()
        cnt = edges["count"].to_numpy()
        states = np.unique(src)  # every transient state has an outgoing edge; start first
        n = states.size
        i_src = np.searchsorted(states, src)
        out_total = np.bincount(i_src, weights=cnt, minlength=n)
        prob = cnt / out_total[i_src]

        to_transient = dst >= 0
        i_dst = np.searchsorted(states, dst[to_transient])
        q = sp.csr_matrix((prob[to_transient], (i_src[to_transient], i_dst)), shape=(n, n))
        to_conv = dst == CONVERSION_CODE
        r_conv = np.bincount(i_src[to_conv], weights=prob[to_conv], minlength=n)
        to_null = dst == NULL_CODE
        r_null = np.bincount(i_src[to_null], weights=prob[to_null], minlength=n)

        end_idx = np.searchsorted(states, ends["state"].to_numpy())
        conv_sum = np.bincount(end_idx, weights=ends["conv"].to_numpy(), minlength=n)
        value_sum = np.bincount(end_idx, weights=ends["value"].to_numpy(), minlength=n)
        mean_value = np.divide(value_sum, conv_sum, out=np.zeros(n), where=conv_sum > 0)
        rhs = np.column_stack([r_conv, r_conv * mean_value])

        solver = _AbsorptionSolver(sp.identity(n, format="csr") - q)
        solution = solver.solve(rhs)
        p_conv, v_total = float(solution[0, 0]), float(solution[0, 1])
        self.solver_ = solver.method

        digits = decode(states, order, base)
        # Exact zeros: a channel whose states cannot reach a (valuable) conversion exit
        # has removal effect 0, not a rounding residue.
        can_convert = reachable(q, r_conv > 0)
        can_value = reachable(q, rhs[:, 1] > 0)
        re = np.zeros(len(channels))
        rev = np.zeros(len(channels))
        for c in range(len(channels)):
            holds = (digits == c).any(axis=1)
            if not holds.any():
                continue
            sub = solver.solve(rhs, keep=~holds, scale=solution[0])
            if p_conv > 0 and (holds & can_convert).any():
                re[c] = 1.0 - sub[0, 0] / p_conv
            if v_total > 0 and (holds & can_value).any():
                rev[c] = 1.0 - sub[0, 1] / v_total
        re = np.clip(re, 0.0, 1.0)
        rev = np.clip(rev, 0.0, 1.0)

        self.conversion_probability_ = p_conv
        self.expected_value_ = v_total
        self._set_credit(channels, re, rev)

        labels = state_labels(digits, channels)
        ends_any = (r_conv + r_null) > 0
        end_rate = np.divide(r_conv, r_conv + r_null, out=np.zeros(n), where=ends_any)
        transient = pl.DataFrame(
            {
                "state": labels["state"],
                "kind": np.where(states == START_CODE, START, "channel"),
                "channels": labels["channels"],
                "conversion_probability": solution[:, 0],
                "end_conversion_rate": np.where(ends_any, end_rate, np.nan),
            }
        ).with_columns(
            pl.col("end_conversion_rate").fill_nan(None),
            pl.when(pl.col("kind") == START).then(pl.lit(START)).otherwise("state").alias("state"),
        )
        self.states_ = pl.concat([transient, absorbing_states()], how="vertical_relaxed")

        names = np.concatenate(
            [self.states_["state"].to_numpy()[:n], np.asarray([CONVERSION, NULL], dtype=object)]
        )
        dst_idx = np.where(dst == CONVERSION_CODE, n, np.where(dst == NULL_CODE, n + 1, 0))
        dst_idx[to_transient] = i_dst
        self.transition_counts_ = pl.DataFrame(
            {"from": names[i_src], "to": names[dst_idx], "count": cnt},
            schema={"from": pl.String, "to": pl.String, "count": pl.Float64},
        )
        self.transition_matrix_ = pl.DataFrame(
            {"from": names[i_src], "to": names[dst_idx], "probability": prob},
            schema={"from": pl.String, "to": pl.String, "probability": pl.Float64},
        )

    def _set_credit(self, channels: list[str], re: np.ndarray, rev: np.ndarray) -> None:
        # sum(RE) is 0 only when nothing converts (a converting route always passes
        # through some channel); credit is then 0 and allocate splits journeys equally.
        self.removal_effects_ = pl.DataFrame(
            {"channel": channels, "removal_effect": re, "value_removal_effect": rev},
            schema={
                "channel": pl.String,
                "removal_effect": pl.Float64,
                "value_removal_effect": pl.Float64,
            },
        )
        self._set_channel_credit(channels, re, rev)

    def _fit_empty(self, channels: list[str]) -> None:
        self.solver_ = "none"
        self.conversion_probability_ = 0.0
        self.expected_value_ = 0.0
        zeros = np.zeros(len(channels))
        self._set_credit(channels, zeros, zeros)
        self.states_ = pl.concat(
            [
                pl.DataFrame(
                    {
                        "state": [START],
                        "kind": [START],
                        "channels": [[]],
                        "conversion_probability": [0.0],
                        "end_conversion_rate": [None],
                    },
                    schema=STATES_SCHEMA,
                ),
                absorbing_states(),
            ]
        )
        self.transition_counts_ = pl.DataFrame(
            schema={"from": pl.String, "to": pl.String, "count": pl.Float64}
        )
        self.transition_matrix_ = pl.DataFrame(
            schema={"from": pl.String, "to": pl.String, "probability": pl.Float64}
        )

    @property
    def n_states_(self) -> int:
        """Number of channel states (excluding ``start`` and the absorbing states)."""
        self._check_fitted()
        return int((self.states_["kind"] == "channel").sum())

    # ------------------------------------------------------------ outputs
    def graph(self) -> nx.DiGraph[str]:
        """The fitted chain (:meth:`to_networkx`), which the engine writes as GraphML."""
        return self.to_networkx()

    def fit_notes(self) -> list[str]:
        """``notes_``, then which exact solver the chain used (``"solved with sparse LU"``)."""
        return [*super().fit_notes(), f"solved with {self.solver_}"]

    def to_networkx(self) -> nx.DiGraph[str]:
        """The fitted chain as a ``networkx.DiGraph``.

        Nodes are state labels with attributes ``kind`` and ``conversion_probability``
        (absorption probability into ``conversion``); edges carry ``probability`` and
        ``count``. All attributes are scalars, so the graph can be written as GraphML.
        """
        import networkx as nx

        self._check_fitted()
        graph: nx.DiGraph[str] = nx.DiGraph(
            order=int(self.order),
            conversion_probability=float(self.conversion_probability_),
        )
        nodes = self.states_.select("state", "kind", "conversion_probability")
        graph.add_nodes_from(
            (row[0], {"kind": row[1], "conversion_probability": row[2]})
            for row in nodes.iter_rows()
        )
        edges = self.transition_counts_.join(self.transition_matrix_, on=["from", "to"], how="left")
        graph.add_edges_from(
            (row[0], row[1], {"count": row[2], "probability": row[3]})
            for row in edges.select("from", "to", "count", "probability").iter_rows()
        )
        return graph
