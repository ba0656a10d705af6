"""The seeded synthetic B2B world (sample data and benchmark data of any size).

:func:`synthesize` builds one in memory, :func:`write_synthetic` streams one to files; both
give the same rows for the same seed. The modules: the world's parameters (``_world``),
accounts and contacts (``_accounts``), touches (``_touches``), the funnel and deals
(``_deals``), survey answers (``_answers``), the sales follow-up (``_sales``), subscriptions
(``_subscriptions``), one block's draw (``_block``), the calibration
(``_calibration``), the ground truth (``_truth``), the tables (``_frames``, ``_spend``), the
files (``_write``) and the entry points (``_synth``); anomalies injected on purpose to score
the weekly alerts (``_anomalies``).
"""

from attribution.datasets._anomalies import (
    Anomaly,
    inject_anomalies,
    largest_channels,
    random_anomalies,
    read_anomalies,
    target_anomalies,
    with_anomalies,
)
from attribution.datasets._synth import (
    DARK_CHANNELS,
    GENERATOR_VERSION,
    SALES_CHANNEL,
    STAGES,
    TRACKED_CHANNELS,
    SyntheticData,
    synthesize,
    write_synthetic,
)

__all__ = [
    "DARK_CHANNELS",
    "GENERATOR_VERSION",
    "SALES_CHANNEL",
    "STAGES",
    "TRACKED_CHANNELS",
    "Anomaly",
    "SyntheticData",
    "inject_anomalies",
    "largest_channels",
    "random_anomalies",
    "read_anomalies",
    "synthesize",
    "target_anomalies",
    "with_anomalies",
    "write_synthetic",
]
