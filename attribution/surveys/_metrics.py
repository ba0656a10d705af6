"""Distances between two channel-share vectors, rank correlation, and the bootstrap.

- total variation distance ``TVD = 1/2 sum |p - q|`` (0 = same shares, 1 = disjoint);
- Jensen-Shannon divergence in bits (log base 2, so it lies in [0, 1]):
  ``JSD = 1/2 KL(p || m) + 1/2 KL(q || m)``, ``m = (p + q) / 2``, ``0 log 0 = 0``;
- Spearman rank correlation (average ranks for ties; NaN when either side is constant);
- bootstrap means over resampled conversions (multinomial weights, seeded).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bootstrap_means", "jensen_shannon", "spearman", "total_variation"]


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """``1/2 sum |p - q|`` of two distributions over the same channels.

    >>> import numpy as np
    >>> from attribution.surveys import total_variation
    >>> total_variation(np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5]))
    0.5
    """
    return float(0.5 * np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (base 2): 0 for equal, 1 for disjoint distributions.

    >>> import numpy as np
    >>> from attribution.surveys import jensen_shannon
    >>> jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    1.0
    """
    p, q = np.asarray(p, float), np.asarray(q, float)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float((a[nz] * np.log2(a[nz] / m[nz])).sum())

    return 0.5 * kl(p) + 0.5 * kl(q)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when a side is constant.

    >>> import numpy as np
    >>> from attribution.surveys import spearman
    >>> spearman(np.array([0.1, 0.2, 0.3]), np.array([0.3, 0.5, 0.9]))
    1.0
    """
    from scipy.stats import rankdata

    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    rx, ry = rankdata(x) - (x.size + 1) / 2, rankdata(y) - (y.size + 1) / 2
    return float((rx * ry).sum() / math.sqrt((rx * rx).sum() * (ry * ry).sum()))


def bootstrap_means(
    scores: np.ndarray, *, resamples: int, seed: int, block: int = 4_000_000
) -> np.ndarray:
    """Means of ``scores`` (conversions x models) over bootstrap resamples of the conversions.

    Each resample draws multinomial counts over the ``n`` conversions (resampling with
    replacement) and takes ``counts @ scores / n``, in blocks of resamples so memory stays
    under about ``block`` weights whatever ``n``. Returns ``resamples x models``.

    The product is an ``einsum``, not ``@``: a BLAS matrix product may sum in a different
    order for a different number of rows (seen: the last bit changed with ``block``), and the
    result must not depend on how the resamples are blocked.
    """
    n = scores.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, scores.shape[1]))
    if n == 0:
        out.fill(np.nan)
        return out
    step = max(1, block // n)
    pvals = np.full(n, 1.0 / n)
    for start in range(0, resamples, step):
        size = min(step, resamples - start)
        counts = rng.multinomial(n, pvals, size=size)
        out[start : start + size] = np.einsum("rn,nm->rm", counts, scores) / n
    return out
