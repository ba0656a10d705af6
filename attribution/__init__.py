"""attribution: multi-touch attribution for B2B marketing.

Exact where others simulate, vectorised where others loop, and B2B-aware. The public API is
re-exported here; the rooms (``attribution.models``, ``.inputs``, ``.journeys``, ``.engine``,
``.b2b``, ``.importers``, ``.surveys``, ``.report``, ``.datasets``, ``.cli``) hold private
``_*`` modules.

The learned path models load on first use, so that ``import attribution`` does not import
SciPy:

>>> from attribution import MarkovModel
>>> MarkovModel().fit_notes()
Traceback (most recent call last):
...
attribution.exceptions.NotFittedError: This MarkovModel instance is not fitted yet. Call \
'fit' with a path table before using this estimator.
"""

from typing import TYPE_CHECKING

from attribution._version import __version__
from attribution.b2b._accounts import DEFAULT_REQUIRED_ROLES
from attribution.b2b._alerts import AlertSettings
from attribution.b2b._alerts_score import AlertScore, score_alerts
from attribution.b2b._analysis import Analysis, B2BInputs, analyse
from attribution.b2b._calibration import Calibration, calibrate
from attribution.b2b._campaigns import CampaignEconomics, campaign_economics, campaign_influence
from attribution.b2b._economics import UnitEconomics, unit_economics
from attribution.b2b._experiments_next import experiments_next
from attribution.b2b._funnel import Funnel, funnel
from attribution.b2b._plan import Plan, PlanCheck, check_plan, read_plan
from attribution.b2b._plan_tests import ChannelTests, channel_tests
from attribution.b2b._plan_touch_types import plan_touch_types
from attribution.b2b._retention import Retention, retention
from attribution.b2b._sla import SLA, SLA_DEFAULTS, sla
from attribution.engine._files import RunFiles, write_json_atomic
from attribution.engine._incremental import attribute_incremental
from attribution.engine._manifest import new_run_id
from attribution.engine._memory import attribute, attribute_paths
from attribution.engine._partitioned import attribute_partitioned, run_partitioned
from attribution.engine._result import (
    CHANNEL_CREDIT_SCHEMA,
    PATH_TABLE_SCHEMA,
    TOUCH_CREDIT_SCHEMA,
    AttributionResult,
)
from attribution.engine._run_paths import read_run_paths
from attribution.engine._scoring import JourneyScorer, JourneyScores, score_journeys
from attribution.engine._snapshots import ModelSnapshot, SnapshotStore
from attribution.engine._writeback import write_back
from attribution.exceptions import (
    AttributionError,
    ColumnNotFoundError,
    ConfigError,
    DuplicateKeyError,
    EmptyResultError,
    InputError,
    ModelNotFoundError,
    ModelParameterError,
    NotFittedError,
    NullValueError,
    OutputExistsError,
    OutputPathError,
    SchemaError,
)
from attribution.importers import (
    ImportResult,
    SpendImport,
    import_ads,
    import_ga4,
    import_hubspot,
    import_pipedrive,
    import_salesforce,
)
from attribution.inputs._benchmarks import BenchmarkRange, Benchmarks, load_benchmarks
from attribution.inputs._database import SqlTable
from attribution.inputs._sources import table_format
from attribution.models._registry import (
    ModelSpec,
    Param,
    available_models,
    default_models,
    get_model,
)
from attribution.models._rules import DEFAULT_ROLE_MULTIPLIERS, RoleWeights
from attribution.options import RunOptions, option_flags
from attribution.surveys._benchmark import SurveyBenchmark, compare_surveys, score_against_truth
from attribution.surveys._classifier import SurveyClassifier

if TYPE_CHECKING:
    from attribution.models import CounterfactualModel, MarkovModel, ShapleyModel

#: the public names that load on first use (see :mod:`attribution.models`)
_LAZY = frozenset({"CounterfactualModel", "MarkovModel", "ShapleyModel"})


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from attribution import models

        return getattr(models, name)
    raise AttributeError(f"module 'attribution' has no attribute '{name}'")


__all__ = [
    "AlertScore",
    "AlertSettings",
    "Analysis",
    "AttributionError",
    "AttributionResult",
    "B2BInputs",
    "BenchmarkRange",
    "Benchmarks",
    "CHANNEL_CREDIT_SCHEMA",
    "Calibration",
    "CampaignEconomics",
    "ChannelTests",
    "ColumnNotFoundError",
    "ConfigError",
    "CounterfactualModel",
    "DEFAULT_REQUIRED_ROLES",
    "DEFAULT_ROLE_MULTIPLIERS",
    "DuplicateKeyError",
    "EmptyResultError",
    "Funnel",
    "ImportResult",
    "InputError",
    "JourneyScorer",
    "JourneyScores",
    "MarkovModel",
    "ModelNotFoundError",
    "ModelParameterError",
    "ModelSnapshot",
    "ModelSpec",
    "NotFittedError",
    "NullValueError",
    "OutputExistsError",
    "OutputPathError",
    "PATH_TABLE_SCHEMA",
    "Param",
    "Plan",
    "PlanCheck",
    "Retention",
    "RoleWeights",
    "RunFiles",
    "RunOptions",
    "SLA",
    "SLA_DEFAULTS",
    "SchemaError",
    "ShapleyModel",
    "SnapshotStore",
    "SpendImport",
    "SqlTable",
    "SurveyBenchmark",
    "SurveyClassifier",
    "TOUCH_CREDIT_SCHEMA",
    "UnitEconomics",
    "__version__",
    "analyse",
    "attribute",
    "attribute_incremental",
    "attribute_partitioned",
    "attribute_paths",
    "available_models",
    "calibrate",
    "campaign_economics",
    "campaign_influence",
    "channel_tests",
    "check_plan",
    "compare_surveys",
    "default_models",
    "experiments_next",
    "funnel",
    "get_model",
    "import_ads",
    "import_ga4",
    "import_hubspot",
    "import_pipedrive",
    "import_salesforce",
    "load_benchmarks",
    "new_run_id",
    "option_flags",
    "plan_touch_types",
    "read_plan",
    "read_run_paths",
    "retention",
    "run_partitioned",
    "score_against_truth",
    "score_alerts",
    "score_journeys",
    "sla",
    "table_format",
    "unit_economics",
    "write_back",
    "write_json_atomic",
]
