"""Metric code of `provreg eval` against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.evaluation.metrics import (
    auroc,
    bit_accuracy,
    bootstrap_ci,
    image_quality,
    micro_ap,
    oscr,
    recall_at_1,
    tpr_at_fpr,
)


def test_tpr_at_fpr_picks_the_lowest_threshold_within_the_budget() -> None:
    negatives = [float(i) for i in range(100)]  # 0 … 99
    positives = [98.5, 99.0, 99.5, 50.0]
    point = tpr_at_fpr(positives, negatives, 0.01)
    # One negative (99) may be above t: t = 98. Fires: 98.5, 99.0, 99.5 (> 98).
    assert point.threshold == 98.0
    assert point.fpr == pytest.approx(0.01)
    assert point.tpr == pytest.approx(0.75)
    assert point.resolvable


def test_ties_at_the_threshold_never_fire() -> None:
    # Binary scores, as rule-based detectors give: 3 of 10 negatives also score 1.
    negatives = [1.0] * 3 + [0.0] * 7
    positives = [1.0] * 8 + [0.0] * 2
    point = tpr_at_fpr(positives, negatives, 0.1)
    # At most 1 negative above t: t = 1.0 (then 0 above), and tied positives do not fire.
    assert point.threshold == 1.0
    assert point.fpr == 0.0
    assert point.tpr == 0.0
    # With a 30% budget the 3 tied negatives fit: t = 0, the 8 positives at 1 fire.
    loose = tpr_at_fpr(positives, negatives, 0.3)
    assert (loose.threshold, loose.tpr, loose.fpr) == (0.0, 0.8, 0.3)


def test_unresolvable_fpr_is_flagged_and_uses_zero_false_positives() -> None:
    point = tpr_at_fpr([5.0, 1.0], [0.0, 2.0, 3.0], 0.001)
    assert not point.resolvable
    assert point.threshold == 3.0
    assert point.tpr == 0.5


def test_no_negatives_means_any_score_fires() -> None:
    point = tpr_at_fpr([0.0, -1.0], [], 0.01)
    assert point.threshold == -math.inf
    assert point.tpr == 1.0
    assert not point.resolvable


def test_micro_ap_hand_computed() -> None:
    truth = {("q1", "r1"), ("q2", "r2"), ("q3", "r3")}
    predictions = [
        ("q1", "r1", 0.9),  # rank 1, true: precision 1/1
        ("q2", "rX", 0.8),  # rank 2, false
        ("q2", "r2", 0.7),  # rank 3, true: precision 2/3
        ("q4", "r1", 0.6),  # rank 4, false; q3's pair is never predicted
    ]
    assert micro_ap(predictions, truth) == pytest.approx((1.0 + 2.0 / 3.0) / 3.0)


def test_micro_ap_ties_rank_false_predictions_first() -> None:
    truth = {("q1", "r1")}
    predictions = [("q1", "r1", 0.5), ("q2", "r9", 0.5)]
    assert micro_ap(predictions, truth) == pytest.approx(0.5)


def test_recall_at_1() -> None:
    assert recall_at_1([(1, 1), (2, 3), (None, 4), (5, 5)]) == 0.5
    assert math.isnan(recall_at_1([]))


def test_oscr_hand_computed() -> None:
    # Known: (score, correct); unknown scores. Thresholds 0.9, 0.8, 0.7, 0.6, 0.2:
    # t=0.9: CCR 1/3, FPR 0; t=0.8: CCR 1/3, FPR 1/2; t=0.7: CCR 2/3, FPR 1/2;
    # t=0.6: CCR 2/3 (0.6 is misclassified), FPR 1/2; t=0.2: CCR 2/3, FPR 1.
    known = [(0.9, True), (0.7, True), (0.6, False)]
    unknown = [0.8, 0.2]
    # Area: from FPR 0 to 1/2 under CCR rising from 1/3 (trapezoid to 1/3 at t=0.8) = 1/6,
    # vertical jump at 1/2, then 1/2 to 1 at 2/3 = 1/3.
    assert oscr(known, unknown) == pytest.approx(1 / 6 + 1 / 3)
    perfect = oscr([(0.9, True), (0.8, True)], [0.1])
    assert perfect == pytest.approx(1.0)


def test_auroc_counts_ties_half() -> None:
    assert auroc([1.0, 0.0], [0.0, 0.0]) == pytest.approx(0.75)
    assert math.isnan(auroc([], [1.0]))


def test_bit_accuracy() -> None:
    assert bit_accuracy("ff", "f0", 8) == 0.5
    assert bit_accuracy("b3ec907bb19e", "b3ec907bb19e", 48) == 1.0
    assert bit_accuracy("ff", None, 8) is None


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    flags = [True] * 30 + [False] * 10

    def rate(sample: list[bool]) -> float:
        return sum(sample) / len(sample)

    low, high = bootstrap_ci(rate, [flags], seed=3, rounds=300)
    assert (low, high) == bootstrap_ci(rate, [flags], seed=3, rounds=300)
    assert low < 0.75 < high
    # Binomial standard error sqrt(.75 * .25 / 40) = 0.068: the 95% interval spans ~±0.13.
    assert 0.15 < high - low < 0.4
    # A constant statistic has a zero-width interval.
    assert bootstrap_ci(rate, [[True] * 5], seed=0, rounds=50) == (1.0, 1.0)


def test_bootstrap_resamples_each_group_on_its_own() -> None:
    sizes: list[tuple[int, int]] = []

    def record(a: list[int], b: list[int]) -> float:
        sizes.append((len(a), len(b)))
        return float(len(a))

    bootstrap_ci(record, [[1, 2, 3], [4]], seed=0, rounds=5)
    assert sizes == [(3, 1)] * 5


def test_image_quality() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    b = a.copy()
    b[0, 0, 0] ^= 1
    same = image_quality(a, a)
    assert same["psnr"] == math.inf and same["ssim"] == 1.0
    close = image_quality(a, b)
    # One pixel value off by 1 in 3072: MSE 1/3072, PSNR = 10 log10(255² · 3072).
    assert close["psnr"] == pytest.approx(10 * math.log10(255**2 * 3072))
    assert image_quality(a, a[:16]) == {"psnr": None, "ssim": None}
