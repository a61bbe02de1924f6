"""The ``model.lineage`` and ``model.watermark`` detectors (docs/detectors/model.md).

Both read the asset's bytes through :func:`detectors.model.load.load_tensors` (strict
safetensors, ``weights_only`` PyTorch, ONNX without external data); a file that cannot be
read safely is an error verdict with intake's reason. Registered models and keys arrive as
options (the registry reads them from PostgreSQL); this package never touches the database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, ClassVar, Final

from detectors.base import Detector, JSONValue, Resources, Sample, Verdict
from detectors.model.lineage import compare
from detectors.model.load import load_tensors
from detectors.model.lora import fit, lora_modules
from detectors.model.manifest import (
    EVIDENCE_TENSORS,
    Fingerprint,
    fingerprint,
    manifest_evidence,
)
from detectors.model.tensors import MODEL_TYPES, ModelFormatError, Tensor
from detectors.model.weight_marks import WeightKey, WeightKeyError, parse_key, verify

#: Family-wise false-positive target of ``model.watermark`` (as the image watermark's).
DEFAULT_FPR_TARGET: Final = 1e-6
_SHOWN_CANDIDATES: Final = 5


class _ModelDetector(Detector):
    media_types: ClassVar[frozenset[str]] = MODEL_TYPES
    resources: ClassVar[Resources] = Resources(num_cpus=1.0, memory_mb=2048)

    def _tensors(self, sample: Sample) -> list[Tensor]:
        return load_tensors(sample.data, sample.media_type)

    def _format_error(self, sample: Sample, exc: ModelFormatError) -> Verdict:
        return self.error(
            sample, exc.reason, {"detail": exc.detail, "media_type": sample.media_type}
        )


class ModelLineageDetector(_ModelDetector):
    """Per-tensor manifest, and the model's relation to registered models.

    Options: ``references`` (``[{"name": …, "tensors": [fingerprint JSON …]}]``, filled by
    the registry from ``provreg lineage register``) and ``evidence_tensors`` (tensors listed
    one by one in evidence before the manifest is summarised).
    """

    name = "model.lineage"
    version = "1.0.0"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.references: list[tuple[str, list[Fingerprint]]] = [
            (str(ref["name"]), [Fingerprint.from_json(t) for t in ref["tensors"]])
            for ref in self.options.get("references", [])
        ]
        self.evidence_tensors = int(self.options.get("evidence_tensors", EVIDENCE_TENSORS))

    @property
    def model_checksum(self) -> str | None:
        """Digest of the registered models compared against (verdicts depend on them)."""
        if not self.references:
            return None
        lines = sorted(
            f"{name}:{p.name}:{p.sha256}" for name, prints in self.references for p in prints
        )
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def detect_one(self, sample: Sample) -> Verdict:
        """Manifest the tensors and match them against every registered model."""
        try:
            tensors = self._tensors(sample)
        except ModelFormatError as exc:
            return self._format_error(sample, exc)
        prints = [fingerprint(t) for t in tensors]
        evidence: dict[str, Any] = {
            "media_type": sample.media_type,
            "manifest": manifest_evidence(prints, self.evidence_tensors),
            "registered_models": len(self.references),
        }
        modules = lora_modules(prints)
        if modules:
            fits = sorted(
                (fit(modules, name, ref) for name, ref in self.references),
                key=lambda f: -float(f["fit"]),
            )
            evidence["lora"] = {"modules": len(modules), "rank": max(m.rank for m in modules)}
            evidence["candidates"] = fits[:_SHOWN_CANDIDATES]
            best = fits[0] if fits else None
            if best is not None and best["relation"] == "lora-adapter":
                evidence["match"] = best
                return self.verdict(
                    sample, "lora-adapter", True, score=float(best["fit"]), evidence=_json(evidence)
                )
            return self.not_found(sample, evidence=_json(evidence))
        comparisons = sorted(
            (compare(prints, name, ref) for name, ref in self.references), key=lambda c: -c.score()
        )
        evidence["candidates"] = [
            {
                "reference": c.reference,
                "relation": c.relation,
                "coverage": round(c.coverage, 4),
                "cosine": None if c.cosine is None else round(c.cosine, 4),
            }
            for c in comparisons[:_SHOWN_CANDIDATES]
        ]
        if comparisons and comparisons[0].relation != "unrelated":
            top = comparisons[0]
            evidence["match"] = top.as_json()
            return self.verdict(
                sample,
                top.relation,
                True,
                score=None if top.cosine is None else round(top.cosine, 6),
                evidence=_json(evidence),
            )
        return self.not_found(sample, evidence=_json(evidence))


class ModelWatermarkDetector(_ModelDetector):
    """Owners' weight watermarks (Uchida, WaterMAS-style) verified on model files.

    Options: ``keys`` (secret key JSON with ``name`` and ``id``, filled by the registry from
    ``provreg lineage key add``) and ``fpr_target`` (family-wise, default 1e-6). Evidence
    names each key and its id; it never holds a key's bits, seed, positions or read bits.
    """

    name = "model.watermark"
    version = "1.0.0"
    required_option = "keys"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.keys: list[WeightKey] = []
        for raw in self.options.get("keys", []):
            try:
                self.keys.append(parse_key(raw))
            except WeightKeyError as exc:
                raise WeightKeyError(f"key {raw.get('name', '?')!r}: {exc}") from None
        self.fpr_target = float(self.options.get("fpr_target", DEFAULT_FPR_TARGET))

    @property
    def model_checksum(self) -> str | None:
        """Digest of the key ids and threshold (never of the secrets themselves)."""
        if not self.keys:
            return None
        text = json.dumps([sorted(k.id for k in self.keys), self.fpr_target])
        return hashlib.sha256(text.encode()).hexdigest()

    def detect_one(self, sample: Sample) -> Verdict:
        """Read every registered key's bits and test them against chance."""
        try:
            tensors = self._tensors(sample)
        except ModelFormatError as exc:
            return self._format_error(sample, exc)
        results = verify(self.keys, tensors)
        evidence: dict[str, Any] = {
            "keys_tested": len(self.keys),
            "results": results,
            "correction": "bonferroni",
            "fpr_target": self.fpr_target,
        }
        if not self.keys:
            evidence["note"] = "no weight-watermark keys are registered"
        tested = [r for r in results if r["p_value_corrected"] is not None]
        if not tested:
            return self.not_found(sample, evidence=_json(evidence))
        best = min(tested, key=lambda r: float(r["p_value_corrected"]))
        score = 1.0 - float(best["ber"])
        p = float(best["p_value_corrected"])
        if p <= self.fpr_target:
            return self.verdict(
                sample, str(best["key"]), True, score=score, p_value=p, evidence=_json(evidence)
            )
        return self.not_found(sample, score=score, p_value=p, evidence=_json(evidence))


def _json(value: dict[str, Any]) -> dict[str, JSONValue]:
    return value
