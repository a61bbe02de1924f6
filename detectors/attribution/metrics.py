"""Open-set attribution metrics: closed-set accuracy, AUROC known-vs-unknown, OSCR.

OSCR (Dhamija et al. 2018, used by POSE): sweep the rejection threshold over the open-set
scores; at each threshold the correct classification rate (known samples accepted *and*
attributed correctly, over all known) is plotted against the false positive rate (unknown
samples accepted, over all unknown); OSCR is the area under that curve. A perfect closed-set
classifier with perfect rejection scores 1; guessing scores ``accuracy x 0.5`` or less.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from detectors.learned.calibration import auroc

__all__ = ["auroc", "closed_set_accuracy", "oscr"]


def closed_set_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of known samples whose top-1 generator is the right one."""
    if not truth:
        return float("nan")
    return float(np.mean([t == p for t, p in zip(truth, predicted, strict=True)]))


def oscr(
    known_scores: Sequence[float], known_correct: Sequence[bool], unknown_scores: Sequence[float]
) -> float:
    """Area under the CCR-vs-FPR curve over every threshold (ties resolved together)."""
    known = np.asarray(known_scores, dtype=np.float64)
    correct = np.asarray(known_correct, dtype=bool)
    unknown = np.asarray(unknown_scores, dtype=np.float64)
    if len(known) == 0 or len(unknown) == 0:
        return float("nan")
    thresholds = np.unique(np.concatenate([known, unknown, [np.inf]]))[::-1]
    ccr = [float(((known >= t) & correct).sum() / len(known)) for t in thresholds]
    fpr = [float((unknown >= t).sum() / len(unknown)) for t in thresholds]
    ccr.append(float(correct.mean()))
    fpr.append(1.0)
    return float(np.trapezoid(ccr, fpr))
