"""What one verdict on one (item, attack) contributes to the metrics.

The ranking score is the detector's decision first, its evidence strength second:
``positive + 0.5 * x / (1 + |x|)`` where ``x`` is ``-log10 p`` when the verdict states a
p-value (watermark), its score when it gives one, ``1 - PDQ distance / 256`` of the best
copy candidate, else 0 (metadata and C2PA are rule-based: their curves have one operating
point). So every positive verdict outranks every negative one, and within each the
evidence orders them. A positive verdict with the wrong
label on a positive item does not count as a detection, and its score drops to 0.
Errors never fire and rank lowest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from detectors.base import Verdict
from detectors.evaluation.corpus import Item


@dataclass(frozen=True)
class Outcome:
    """One detector's result on one (possibly attacked) corpus item."""

    detector: str
    item: str
    attack: str
    role: str
    fired: bool
    score: float
    label: str
    error: str | None = None
    bit_accuracy: float | None = None
    top_reference: Any = None
    expected_reference: Any = None
    predictions: tuple[tuple[Any, float], ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready row (``-inf`` scores written as ``None``)."""
        return {
            "detector": self.detector,
            "item": self.item,
            "attack": self.attack,
            "role": self.role,
            "fired": self.fired,
            "score": None if math.isinf(self.score) else round(self.score, 6),
            "label": self.label,
            "error": self.error,
            "bit_accuracy": self.bit_accuracy,
            "top_reference": self.top_reference,
        }


def _strength(verdict: Verdict) -> float:
    if verdict.p_value is not None:
        return -math.log10(max(verdict.p_value, 1e-300))
    if verdict.score is not None:
        return float(verdict.score)
    best = verdict.evidence.get("best_distance")
    if isinstance(best, int | float):
        return 1.0 - float(best) / 256.0
    return 0.0


def _rank_score(verdict: Verdict) -> float:
    x = _strength(verdict)
    return float(verdict.positive) + 0.5 * x / (1.0 + abs(x))


def _bit_accuracy(verdict: Verdict, label: str) -> float | None:
    table = verdict.evidence.get("table")
    if not isinstance(table, list):
        return None
    rates = [
        float(row["bit_accuracy"])  # type: ignore[arg-type]
        for row in table
        if isinstance(row, dict)
        and row.get("payload") == label
        and isinstance(row.get("bit_accuracy"), int | float)
    ]
    return max(rates) if rates else None


def _copy_predictions(verdict: Verdict) -> tuple[tuple[Any, float], ...]:
    matches = verdict.evidence.get("matches")
    if not isinstance(matches, list):
        return ()
    out = []
    for match in matches:
        if isinstance(match, dict) and isinstance(match.get("distance"), int | float):
            # A match the detector confirmed outranks every unconfirmed candidate.
            out.append(
                (
                    match.get("ref_id"),
                    float(bool(match.get("match"))) + 1.0 - float(match["distance"]) / 256.0,  # type: ignore[arg-type]
                )
            )
    return tuple(out)


def outcome(verdict: Verdict, item: Item, attack: str, role: str) -> Outcome:
    """The :class:`Outcome` of ``verdict`` for ``item`` under ``attack``."""
    if verdict.is_error:
        return Outcome(
            verdict.detector,
            item.id,
            attack,
            role,
            False,
            -math.inf,
            verdict.label,
            error=verdict.error,
            expected_reference=item.reference,
        )
    expected = item.expect.get(verdict.detector)
    score = _rank_score(verdict)
    fired = verdict.positive
    if role == "positive" and expected is not None and verdict.label != expected and fired:
        fired, score = False, 0.0
    predictions = _copy_predictions(verdict)
    return Outcome(
        verdict.detector,
        item.id,
        attack,
        role,
        fired,
        score,
        verdict.label,
        bit_accuracy=_bit_accuracy(verdict, expected) if expected else None,
        top_reference=predictions[0][0] if predictions else None,
        expected_reference=item.reference,
        predictions=predictions,
    )


def unreadable(detector: str, item: Item, attack: str, role: str, reason: str) -> Outcome:
    """The outcome of a file that could not be read or attacked: counted, never fired."""
    return Outcome(
        detector,
        item.id,
        attack,
        role,
        False,
        -math.inf,
        "error",
        error=reason,
        expected_reference=item.reference,
    )
