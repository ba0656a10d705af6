"""The run directory: its file names (read by the writer, the report and the service) and
the atomic writes that keep a half-written file or directory from ever being visible."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import polars as pl

from attribution.exceptions import OutputExistsError, OutputPathError

__all__ = [
    "RunFiles",
    "atomic_directory",
    "write_csv_atomic",
    "write_json_atomic",
    "write_parquet_atomic",
]


class RunFiles:
    """File names of a run directory, one constant each.

    Examples
    --------
    >>> from attribution import RunFiles
    >>> RunFiles.MANIFEST, RunFiles.CHANNEL_CREDIT
    ('manifest.json', 'channel_credit.parquet')
    >>> RunFiles.extra("markov", RunFiles.REMOVAL_EFFECTS)
    'markov_removal_effects.parquet'
    """

    MANIFEST: Final = "manifest.json"
    CHANNEL_CREDIT: Final = "channel_credit.parquet"
    TOUCH_CREDIT: Final = "touch_credit.parquet"
    CONVERSIONS: Final = "conversions.parquet"
    PATHS: Final = "paths.parquet"
    ACCOUNTS: Final = "accounts.parquet"
    ACCOUNT_CREDIT: Final = "account_credit.parquet"
    PIPELINE: Final = "pipeline.parquet"
    CAMPAIGN_CREDIT: Final = "campaign_credit.parquet"
    CAMPAIGN_CREDIT_JSON: Final = "campaign_credit.json"
    CAMPAIGN_INFLUENCE: Final = "campaign_influence.parquet"
    CAMPAIGN_INFLUENCE_CSV: Final = "campaign_influence.csv"
    REPORT: Final = "report.html"
    MARKOV_ORDER_SELECTION: Final = "markov_order_selection.parquet"
    ECONOMICS: Final = "economics.parquet"
    ECONOMICS_JSON: Final = "economics.json"
    ECONOMICS_SLICES: Final = "economics_slices.parquet"
    ECONOMICS_MONTHLY: Final = "economics_monthly.parquet"
    ECONOMICS_DRAWS: Final = "economics_draws.parquet"
    CREDIT_DRAWS: Final = "credit_draws.parquet"
    RETENTION: Final = "retention.parquet"
    RETENTION_COHORTS: Final = "retention_cohorts.parquet"
    RETENTION_JSON: Final = "retention.json"
    FUNNEL: Final = "funnel.parquet"
    FUNNEL_WEEKLY: Final = "funnel_weekly.parquet"
    FUNNEL_VELOCITY: Final = "funnel_velocity.parquet"
    ALERTS: Final = "alerts.parquet"
    FUNNEL_KPIS: Final = "funnel_kpis.parquet"
    FUNNEL_JSON: Final = "funnel.json"
    SLA: Final = "sla.parquet"
    SLA_BREACHES: Final = "sla_breaches.parquet"
    SLA_JSON: Final = "sla.json"
    PLAN: Final = "plan.parquet"
    PLAN_FLAGS: Final = "plan_flags.parquet"
    PLAN_JSON: Final = "plan.json"
    LEVERS: Final = "levers.parquet"
    CALIBRATED_CREDIT: Final = "calibrated_credit.parquet"
    CALIBRATION_TESTS: Final = "calibration_tests.parquet"
    CALIBRATION_TRUTH: Final = "calibration_truth.parquet"
    EXPERIMENTS_NEXT: Final = "experiments_next.parquet"
    PLAN_RISK: Final = "plan_risk.parquet"
    TESTS: Final = "tests.parquet"
    TESTS_JSON: Final = "tests.json"
    SURVEY_BENCHMARK: Final = "survey_benchmark.parquet"
    SURVEY_BENCHMARK_JSON: Final = "survey_benchmark.json"
    SURVEY_LEADERBOARD: Final = "survey_leaderboard.parquet"
    SURVEY_SHARES: Final = "survey_shares.parquet"
    SURVEY_CODED: Final = "survey_coded.parquet"
    SURVEY_DARK_FUNNEL: Final = "survey_dark_funnel.parquet"
    SURVEY_HYBRID: Final = "survey_hybrid.parquet"
    SURVEY_TRUTH: Final = "survey_truth.parquet"
    SURVEY_SUMMARY: Final = "survey_summary.txt"
    #: suffixes of a data-driven model's extras, after its file-safe label (see :meth:`extra`)
    REMOVAL_EFFECTS: Final = "removal_effects"
    TRANSITION_MATRIX: Final = "transition_matrix"
    SHAPLEY_VALUES: Final = "shapley_values"
    TRANSITION_GRAPH: Final = "transition_graph"

    @staticmethod
    def safe_label(label: str) -> str:
        """A model label as it appears in file names (``markov(order=2)`` ->
        ``markov_order=2_``)."""
        return "".join(ch if ch.isalnum() or ch in "_-=" else "_" for ch in label)

    @classmethod
    def extra(cls, label: str, kind: str, suffix: str = ".parquet") -> str:
        """The file of a model's extra ``kind`` (e.g. :attr:`REMOVAL_EFFECTS`)."""
        return f"{cls.safe_label(label)}_{kind}{suffix}"


def process_umask() -> int:
    """The process umask, read without changing it where the system says it (Linux's
    ``/proc/self/status``); elsewhere set and restored at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _as_umask_allows(path: Path, mode: int) -> None:
    """Give ``path`` the permissions a plain ``mkdir`` / ``open`` would (``mode`` less the
    umask): ``tempfile`` creates owner-only directories (0700) and files (0600), which would
    keep a BI user or a web server in the owner's group from reading a run."""
    os.chmod(path, mode & ~process_umask())


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``final``; rename it into place on success.

    A reader never sees a half-written directory: either the old state or the complete new one.
    On error the temporary directory is removed. The directory gets the permissions of a
    plain ``mkdir`` under the process umask (0755 with the usual 022), not ``mkdtemp``'s 0700.
    """
    _through_directories(final.parent)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        _as_umask_allows(tmp, 0o777)
        yield tmp
        if final.exists():
            raise OutputExistsError(
                f"{final} already exists: a run directory is written once (with the B2B "
                "outputs, write after analyse: result.write(runs, also=b2b.outputs)); give "
                "another runs directory or run_id"
            )
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _through_directories(folder: Path) -> None:
    """An :class:`OutputPathError` when ``folder`` or the nearest of its parents that exists
    is not a directory (``runs/sub`` where ``runs`` is a file), as the command line says it."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "" if probe == folder else f" ('{probe}' is a file)"
        raise OutputPathError(f"'{folder}' is not a directory{where}: give a directory to "
                              "write into")


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON via a uniquely named temporary file beside ``path`` and ``os.replace``: a
    reader sees the old file or the new one, never half of one, even with several writers.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from attribution import write_json_atomic
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "status.json"
    >>> write_json_atomic(target, {"status": "running"})
    >>> json.loads(target.read_text())
    {'status': 'running'}
    """
    text = json.dumps(payload, indent=2, default=str) + "\n"
    _replace_atomic(path, lambda tmp: tmp.write_text(text))


def write_parquet_atomic(path: Path, frame: pl.DataFrame) -> None:
    """Write Parquet via a uniquely named temporary file beside ``path`` and ``os.replace``."""
    _replace_atomic(path, frame.write_parquet)


def write_csv_atomic(path: Path, frame: pl.DataFrame) -> None:
    """Write CSV via a uniquely named temporary file beside ``path`` and ``os.replace``."""
    _replace_atomic(path, frame.write_csv)


def _replace_atomic(path: Path, write: Callable[[Path], object]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        _as_umask_allows(tmp, 0o666)  # as a plain open() would, not mkstemp's 0600
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
