"""The shared scikit-learn-style base of the data-driven path models.

``__init__`` only stores keyword-only parameters; ``fit`` calls :meth:`_validate_params`
against the class's constraints table and learns trailing-underscore attributes; methods
that need a fitted model start with :meth:`_check_fitted`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar


class PathModel:
    """Base of MarkovModel, ShapleyModel and CounterfactualModel."""

    #: parameter name -> (validity check, description used in the error message)
    _constraints: ClassVar[Mapping[str, tuple[Callable[[Any], bool], str]]] = {}
    #: the attribute whose presence means the model is fitted
    _fitted_attribute: ClassVar[str] = "channel_weights_"
    #: ``fit`` also takes :class:`attribution.models._allocation.PathSequences` (coded journeys)
    fits_sequences: ClassVar[bool] = False

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of the model, as given to ``__init__``."""
        return {name: getattr(self, name) for name in self._constraints}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def _validate_params(self) -> None:
        for name, (is_valid, description) in self._constraints.items():
            value = getattr(self, name)
            if not is_valid(value):
                raise ValueError(
                    f"The '{name}' parameter of {type(self).__name__} must be "
                    f"{description}. Got {value!r} instead."
                )

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attribute):
            raise ValueError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "a path table before using this estimator."
            )
