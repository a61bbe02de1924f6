"""Compare a model's fingerprints with registered models: exact, renamed, permuted, derived.

Per reference, tensors are paired by name and shape. A pair with equal hashes is *exact*; a
pair whose multiset hashes agree is a *permuted* copy (its elements reordered, e.g. hidden
neurons swapped); any other pair is *changed* and gets a cosine similarity and relative L2
distance from the sketches. Candidate tensors not paired by name are looked up by hash among
the reference's tensors (*renamed*). The relation:

- ``exact``: every reference tensor present by name with identical bytes, nothing extra;
- ``renamed-copy``: every reference tensor's bytes present, some under other names;
- ``permuted-copy``: every reference tensor present byte-for-byte or as a permutation;
- ``derived``: most of the reference's parameters paired by name and shape, and the
  parameter-weighted cosine of the changed tensors at least :data:`DERIVED_COSINE`
  (fine-tuned, pruned or quantised from it);
- otherwise ``unrelated``.

Known limit: a copy both renamed (or permuted) *and* then fine-tuned is not recognised: its
tensors pair neither by name nor by hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from detectors.model.manifest import Fingerprint

#: Weighted cosine at or above which changed tensors count as derived from the reference.
#: Measured on the digits models (docs/detectors/model.md): fine-tuned/pruned/quantised
#: copies stay above 0.9, models of the same architecture from other seeds stay below 0.2.
DERIVED_COSINE: Final = 0.6
#: Share of the reference's parameters that must pair by name and shape for ``derived``.
DERIVED_COVERAGE: Final = 0.5
MAX_CHANGED_LISTED: Final = 32


@dataclass
class Comparison:
    """How one model relates to one registered model."""

    reference: str
    relation: str
    exact: int = 0
    renamed: int = 0
    permuted: int = 0
    changed: list[dict[str, Any]] = field(default_factory=list)
    missing: int = 0
    extra: int = 0
    coverage: float = 0.0
    cosine: float | None = None
    relative_l2: float | None = None

    def score(self) -> float:
        """Ranking among references: copies first, then by similarity."""
        order = {"exact": 4.0, "renamed-copy": 3.0, "permuted-copy": 3.0, "derived": 2.0}
        return order.get(self.relation, 0.0) + self.coverage * max(self.cosine or 0.0, 0.0)

    def as_json(self) -> dict[str, Any]:
        """Evidence form (changed tensors capped at :data:`MAX_CHANGED_LISTED`)."""
        return {
            "reference": self.reference,
            "relation": self.relation,
            "exact_tensors": self.exact,
            "renamed_tensors": self.renamed,
            "permuted_tensors": self.permuted,
            "changed_tensors": len(self.changed),
            "changed": self.changed[:MAX_CHANGED_LISTED],
            "missing_tensors": self.missing,
            "extra_tensors": self.extra,
            "coverage": round(self.coverage, 4),
            "cosine": None if self.cosine is None else round(self.cosine, 4),
            "relative_l2": None if self.relative_l2 is None else round(self.relative_l2, 4),
        }


def compare(
    candidate: Sequence[Fingerprint], name: str, reference: Sequence[Fingerprint]
) -> Comparison:
    """The relation of ``candidate`` to the registered model ``name``."""
    result = Comparison(reference=name, relation="unrelated")
    ref_by_name = {p.name: p for p in reference}
    ref_hashes = {p.sha256 for p in reference}
    ref_multiset = {p.multiset_hash for p in reference if _size(p) > 1}
    total = sum(_size(p) for p in reference) or 1
    paired = 0
    weighted_cos = weighted_l2 = changed_weight = 0.0
    seen: set[str] = set()
    for cand in candidate:
        ref = ref_by_name.get(cand.name)
        if ref is not None and ref.shape == cand.shape:
            seen.add(ref.name)
            paired += _size(ref)
            if ref.sha256 == cand.sha256:
                result.exact += 1
            elif ref.multiset_hash == cand.multiset_hash and _size(ref) > 1:
                result.permuted += 1
            else:
                cos, rel = _similarity(cand, ref)
                result.changed.append(
                    {"name": cand.name, "cosine": _round(cos), "relative_l2": _round(rel)}
                )
                if cos is not None and rel is not None:
                    weight = float(_size(ref))
                    weighted_cos += weight * cos
                    weighted_l2 += weight * rel
                    changed_weight += weight
        elif cand.sha256 in ref_hashes:
            result.renamed += 1
        elif cand.multiset_hash in ref_multiset:
            result.permuted += 1
        else:
            result.extra += 1
    result.missing = len(reference) - len(seen)
    result.coverage = paired / total
    if changed_weight:
        result.cosine = weighted_cos / changed_weight
        result.relative_l2 = weighted_l2 / changed_weight
    copies = result.exact + result.renamed + result.permuted
    if result.exact == len(reference) and not result.extra and not result.changed:
        result.relation = "exact"
    elif copies >= len(reference) and not result.changed and not result.extra:
        result.relation = "renamed-copy" if result.renamed else "permuted-copy"
    elif (
        result.coverage >= DERIVED_COVERAGE
        and ((result.cosine is not None and result.cosine >= DERIVED_COSINE) or not result.changed)
        and paired
    ):
        result.relation = "derived"
    return result


def _size(p: Fingerprint) -> int:
    return int(np.prod(p.shape)) if p.shape else 1


def _similarity(a: Fingerprint, b: Fingerprint) -> tuple[float | None, float | None]:
    x, y = a.sketch_values(), b.sketch_values()
    if x.size == 0 or x.size != y.size:
        return None, None
    nx, ny = float(np.linalg.norm(x)), float(np.linalg.norm(y))
    cos = float(x @ y / (nx * ny)) if nx and ny else None
    rel = float(np.linalg.norm(x - y) / ny) if ny else None
    return cos, rel


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
