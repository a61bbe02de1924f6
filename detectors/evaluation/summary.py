"""Turn outcomes into one table row per detector × attack (pure; report.py writes files)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from detectors.evaluation.metrics import (
    auroc,
    bootstrap_ci,
    micro_ap,
    recall_at_1,
    tpr_at_fpr,
)
from detectors.evaluation.outcomes import Outcome

FPR_TARGETS = (0.01, 0.001)


def _rate(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else math.nan


def _mean(values: Iterable[float | None]) -> float | None:
    given = [v for v in values if v is not None]
    kept = [v for v in given if not math.isinf(v)]
    if not kept:
        return math.inf if given else None  # every copy identical: PSNR is infinite
    return round(statistics.fmean(kept), 4)


def summarise(
    outcomes: Sequence[Outcome],
    attacks: Mapping[str, Mapping[str, Any]],
    quality: Mapping[str, Sequence[Mapping[str, float | None]]],
    *,
    seed: int,
    rounds: int = 200,
) -> list[dict[str, Any]]:
    """One row per (detector, attack) in attack order; see docs/robustness.md for columns."""
    grouped: dict[tuple[str, str], list[Outcome]] = defaultdict(list)
    for row in outcomes:
        grouped[(row.detector, row.attack)].append(row)
    order = {attack: i for i, attack in enumerate(attacks)}
    rows = []
    for (detector, attack), group in sorted(
        grouped.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 0))
    ):
        rows.append(
            _row(
                detector,
                attack,
                group,
                attacks[attack],
                quality.get(attack, ()),
                seed=seed,
                rounds=rounds,
            )
        )
    return rows


def _row(
    detector: str,
    attack: str,
    group: list[Outcome],
    spec: Mapping[str, Any],
    quality: Sequence[Mapping[str, float | None]],
    *,
    seed: int,
    rounds: int,
) -> dict[str, Any]:
    pos = [o for o in group if o.role == "positive"]
    neg = [o for o in group if o.role == "negative"]
    row: dict[str, Any] = {
        "detector": detector,
        "attack": attack,
        "family": spec["family"],
        "strength": spec["strength"],
        "kind": spec["kind"],
        "n_pos": len(pos),
        "n_neg": len(neg),
        "errors": sum(1 for o in group if o.error is not None),
        "detect_rate": _rate([o.fired for o in pos]),
        "fpr_own": _rate([o.fired for o in neg]),
        "psnr": _mean(q.get("psnr") for q in quality),
        "ssim": _mean(q.get("ssim") for q in quality),
    }
    if pos:
        row["detect_rate_ci"] = bootstrap_ci(
            lambda p: _rate([o.fired for o in p]), [pos], seed=seed, rounds=rounds
        )
    ps, ns = [o.score for o in pos], [o.score for o in neg]
    for target in FPR_TARGETS:
        point = tpr_at_fpr(ps, ns, target)
        key = f"tpr@{target:g}"
        row[key] = point.tpr
        row[f"{key}_resolvable"] = point.resolvable
        if pos and neg and target == FPR_TARGETS[0]:
            row[f"{key}_ci"] = bootstrap_ci(
                lambda p, n, t=target: tpr_at_fpr(p, n, t).tpr, [ps, ns], seed=seed, rounds=rounds
            )
    finite = (
        [s if not math.isinf(s) else -1e9 for s in ps],
        [s if not math.isinf(s) else -1e9 for s in ns],
    )
    row["auroc"] = auroc(*finite)
    bits = [o.bit_accuracy for o in pos if o.bit_accuracy is not None]
    row["bit_accuracy"] = round(statistics.fmean(bits), 4) if bits else None
    if any(o.predictions or o.top_reference is not None for o in group) or detector == "copy":
        row.update(_copy_metrics(group, pos))
    if spec["kind"] == "forgery":
        labels: dict[str, int] = defaultdict(int)
        for o in neg:
            if o.fired:
                labels[o.label] += 1
        row["forged_labels"] = dict(labels)
    return row


def _copy_metrics(group: list[Outcome], pos: list[Outcome]) -> dict[str, Any]:
    truth = {(o.item, o.expected_reference) for o in pos if o.expected_reference is not None}
    predictions = [(o.item, ref, score) for o in group for ref, score in o.predictions]
    top = [(o.top_reference, o.expected_reference) for o in pos]
    return {"recall@1": recall_at_1(top), "muap": micro_ap(predictions, truth)}
