"""Attribution models: the registry, rule-based weights, Markov, Shapley, counterfactual and
the allocation of their credit over touches.

The learned models are fit/transform classes on :class:`attribution.models._estimator.
PathModel`; they are importable from here (loaded on first use, so that importing the package
does not import SciPy):

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
