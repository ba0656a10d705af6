"""Attribution models: the registry, rule-based weights, Markov, Shapley, counterfactual and
the allocation of their credit over touches.

- ``_registry``: every model by name, with its ``Param`` table (the only place a parameter's
  kind, range and choices are written) and the parsing of model requests;
- ``_rules``: rule-based models as role weights, applied by one vectorised function;
- ``_estimator``: the contract of the learned models (``PathModel``: parameters checked
  against the registry in ``fit``, ``NotFittedError``, what the engine reads);
- ``_markov`` (model and exact solve), ``_markov_chain`` (states and transition counts),
  ``_markov_order`` (``select_order``), ``_shapley``, ``_counterfactual``;
- ``_allocation``: path-table checks, coded journeys (``PathSequences``) and per-touch
  allocation by channel weights.

The learned models are importable from here (loaded on first use, so that importing the
package does not import SciPy):

>>> from attribution.models import MarkovModel
>>> MarkovModel(order=2)
MarkovModel(order=2, collapse_repeats=True, use_nulls=True)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attribution.models._counterfactual import CounterfactualModel
    from attribution.models._markov import MarkovModel
    from attribution.models._shapley import ShapleyModel

__all__ = ["CounterfactualModel", "MarkovModel", "ShapleyModel"]

_LAZY = {
    "CounterfactualModel": "attribution.models._counterfactual",
    "MarkovModel": "attribution.models._markov",
    "ShapleyModel": "attribution.models._shapley",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'attribution.models' has no attribute '{name}'")
