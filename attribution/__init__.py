"""attribution: multi-touch attribution for B2B marketing.

Exact where others simulate, vectorised where others loop, and B2B-aware. The public API is
re-exported here; everything in ``attribution._*`` modules is private.
"""

from ._accounts import DEFAULT_REQUIRED_ROLES
from ._attribute import AttributionResult, attribute, attribute_paths
from ._benchmark_sra import SurveyBenchmark, compare_surveys, score_against_truth
from ._economics import UnitEconomics, unit_economics
from ._errors import (
    AttributionError,
    ColumnNotFoundError,
    ConfigError,
    DuplicateKeyError,
    InputError,
    ModelNotFoundError,
    ModelParameterError,
    NullValueError,
    SchemaError,
)
from ._funnel import Funnel, funnel
from ._partitioned import attribute_partitioned, run_partitioned
from ._plan import Plan, PlanCheck, check_plan, read_plan
from ._registry import ModelSpec, Param, available_models, default_models, get_model
from ._rules import DEFAULT_ROLE_MULTIPLIERS, RoleWeights
from ._scoring import JourneyScorer, JourneyScores, read_run_paths, score_journeys
from ._surveys import SurveyClassifier
from ._version import __version__

__all__ = [
    "AttributionError",
    "AttributionResult",
    "ColumnNotFoundError",
    "ConfigError",
    "DEFAULT_REQUIRED_ROLES",
    "DEFAULT_ROLE_MULTIPLIERS",
    "DuplicateKeyError",
    "Funnel",
    "InputError",
    "JourneyScorer",
    "JourneyScores",
    "ModelNotFoundError",
    "ModelParameterError",
    "ModelSpec",
    "NullValueError",
    "Param",
    "Plan",
    "PlanCheck",
    "RoleWeights",
    "SchemaError",
    "SurveyBenchmark",
    "SurveyClassifier",
    "UnitEconomics",
    "__version__",
    "attribute",
    "attribute_partitioned",
    "attribute_paths",
    "available_models",
    "check_plan",
    "compare_surveys",
    "default_models",
    "funnel",
    "get_model",
    "read_plan",
    "read_run_paths",
    "run_partitioned",
    "score_against_truth",
    "score_journeys",
    "unit_economics",
]
