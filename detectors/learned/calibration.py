"""Scores to stated false-positive rates, and the metrics the model cards report.

A learned detector's score is turned into evidence with the scores of a named null set (held-out
real images, never seen in training): the empirical FPR at score ``s`` is the share of null
scores at or above ``s``, with the +1 correction that keeps it a valid p-value
(``(count + 1) / (n + 1)``, never 0 from a finite set).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

#: At most this many null scores travel in a model card (evenly spaced order statistics).
MAX_NULL_SCORES = 2000


@dataclass(frozen=True)
class Calibration:
    """The null scores of a model (sorted), the threshold chosen and the FPR it was chosen at."""

    null_scores: tuple[float, ...]
    threshold: float
    target_fpr: float
    null_set: str

    def fpr_at(self, score: float) -> float:
        """Empirical FPR of ``score`` on the null set: ``(#null ≥ score + 1) / (n + 1)``."""
        nulls = np.asarray(self.null_scores)
        above = int(len(nulls) - np.searchsorted(nulls, score, side="left"))
        return (above + 1) / (len(nulls) + 1)

    def to_json(self) -> dict[str, object]:
        """The calibration as it is written into a model card."""
        return {
            "null_scores": list(self.null_scores),
            "threshold": self.threshold,
            "target_fpr": self.target_fpr,
            "null_set": self.null_set,
        }

    @classmethod
    def from_json(cls, data: object) -> Calibration:
        """Read what :meth:`to_json` wrote (raises ValueError on a malformed card)."""
        if not isinstance(data, dict):
            raise ValueError("calibration must be an object")
        nulls = tuple(sorted(float(x) for x in data["null_scores"]))
        if not nulls or not all(math.isfinite(x) for x in nulls):
            raise ValueError("calibration needs finite null scores")
        return cls(
            nulls, float(data["threshold"]), float(data["target_fpr"]), str(data["null_set"])
        )


def calibrate(null_scores: Sequence[float], target_fpr: float, null_set: str) -> Calibration:
    """Threshold with empirical FPR ≤ ``target_fpr`` on ``null_scores`` (strictly above the
    ⌈(1 - fpr)·n⌉-th null score), keeping at most :data:`MAX_NULL_SCORES` order statistics."""
    nulls = np.sort(np.asarray(null_scores, dtype=np.float64))
    if len(nulls) == 0:
        raise ValueError("calibration needs at least one null score")
    allowed = math.floor(target_fpr * len(nulls))  # null scores allowed at or above threshold
    index = len(nulls) - allowed - 1
    threshold = float(np.nextafter(nulls[index], np.inf))
    if len(nulls) > MAX_NULL_SCORES:
        picks = np.linspace(0, len(nulls) - 1, MAX_NULL_SCORES).round().astype(int)
        nulls = nulls[picks]
    return Calibration(tuple(float(x) for x in nulls), threshold, target_fpr, null_set)


def auroc(negatives: npt.ArrayLike, positives: npt.ArrayLike) -> float:
    """Area under the ROC curve (Mann-Whitney U; ties count one half)."""
    neg = np.asarray(negatives, dtype=np.float64)
    pos = np.asarray(positives, dtype=np.float64)
    if len(neg) == 0 or len(pos) == 0:
        return float("nan")
    scores = np.concatenate([neg, pos])
    order = scores.argsort(kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, count in zip(first, counts, strict=True):
        ranks[order[start : start + count]] = start + (count + 1) / 2.0
    u = ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(neg) * len(pos)))


def tpr_at_fpr(negatives: npt.ArrayLike, positives: npt.ArrayLike, fpr: float) -> float:
    """Share of positives above the threshold calibrated at ``fpr`` on ``negatives``."""
    threshold = calibrate(np.asarray(negatives, dtype=np.float64).tolist(), fpr, "n").threshold
    pos = np.asarray(positives, dtype=np.float64)
    return float((pos >= threshold).mean()) if len(pos) else float("nan")
