"""model.lineage on honest digits models: exact, fine-tuned, pruned, quantised and unrelated
models of one architecture told apart; renamed and permuted copies; LoRA to its base."""

from __future__ import annotations

import pytest
import torch

from detectors.base import NOT_FOUND, Sample
from detectors.model.detector import ModelLineageDetector
from detectors.model.load import load_tensors
from detectors.model.manifest import fingerprint
from detectors.model.tensors import SAFETENSORS
from detectors.testing import model_fixtures as mf


@pytest.fixture(scope="module")
def models() -> dict[str, mf.State]:
    base = mf.train("mlp", 1)
    return {
        "base": base,
        "fine-tuned": mf.fine_tune("mlp", base, 5),
        "pruned-50": mf.prune(base, 0.5),
        "int8": mf.quantise_int8(base),
        "other-seed": mf.train("mlp", 2),
        "cnn": mf.train("cnn", 3, steps=5),
    }


def _refs(models: dict[str, mf.State], *names: str) -> list[dict[str, object]]:
    return [
        {"name": name, "tensors": [fingerprint(t).as_json() for t in mf.tensors_of(models[name])]}
        for name in names
    ]


def _judge(detector: ModelLineageDetector, state: mf.State) -> tuple[str, dict[str, object]]:
    sample = Sample(sha256="x", data=mf.safetensors_bytes(state), media_type=SAFETENSORS)
    (verdict,) = detector.detect_batch([sample])
    assert verdict.error is None, verdict.evidence
    return verdict.label, verdict.evidence


def test_exact_derived_and_unrelated_are_told_apart(models: dict[str, mf.State]) -> None:
    detector = ModelLineageDetector({"references": _refs(models, "base", "cnn")})
    label, evidence = _judge(detector, models["base"])
    assert label == "exact" and evidence["match"]["reference"] == "base"  # type: ignore[index]
    for derived in ("fine-tuned", "pruned-50", "int8"):
        label, evidence = _judge(detector, models[derived])
        match = evidence["match"]
        assert label == "derived", derived
        assert match["reference"] == "base" and match["cosine"] > 0.9  # type: ignore[index]
        assert match["changed_tensors"] >= 1  # type: ignore[index]
    label, evidence = _judge(detector, models["other-seed"])
    assert label == NOT_FOUND
    best = evidence["candidates"][0]  # type: ignore[index]
    assert best["relation"] == "unrelated" and abs(best["cosine"]) < 0.3


def test_renamed_and_permuted_copies_are_reported(models: dict[str, mf.State]) -> None:
    detector = ModelLineageDetector({"references": _refs(models, "base")})
    base = models["base"]
    renamed = {f"encoder.{k}": v for k, v in base.items()}
    assert _judge(detector, renamed)[0] == "renamed-copy"
    order = torch.randperm(64, generator=torch.Generator().manual_seed(9))
    permuted = {
        "fc1.weight": base["fc1.weight"][order],
        "fc1.bias": base["fc1.bias"][order],
        "fc2.weight": base["fc2.weight"][:, order],
        "fc2.bias": base["fc2.bias"],
    }
    label, evidence = _judge(detector, permuted)
    assert label == "permuted-copy" and evidence["match"]["permuted_tensors"] == 3  # type: ignore[index]


def test_lora_adapter_is_matched_to_its_base(models: dict[str, mf.State]) -> None:
    detector = ModelLineageDetector({"references": _refs(models, "cnn", "base")})
    adapter = {
        "base_model.model.fc1.lora_A.weight": torch.randn(4, 64),
        "base_model.model.fc1.lora_B.weight": torch.zeros(64, 4),
        "base_model.model.fc2.lora_A.weight": torch.randn(4, 64),
        "base_model.model.fc2.lora_B.weight": torch.zeros(10, 4),
    }
    label, evidence = _judge(detector, adapter)
    assert label == "lora-adapter" and evidence["match"]["reference"] == "base"  # type: ignore[index]
    assert evidence["lora"] == {"modules": 2, "rank": 4}
    wrong = dict(adapter, **{"base_model.model.fc2.lora_B.weight": torch.zeros(11, 4)})
    label, evidence = _judge(detector, wrong)
    assert label == NOT_FOUND and evidence["candidates"][0]["modules_fitted"] == 1  # type: ignore[index]


def test_manifest_is_bounded_and_stated(models: dict[str, mf.State]) -> None:
    detector = ModelLineageDetector({"evidence_tensors": 2})
    label, evidence = _judge(detector, models["cnn"])
    manifest = evidence["manifest"]
    assert label == NOT_FOUND and evidence["registered_models"] == 0
    assert manifest["tensor_count"] == 6 and len(manifest["tensors"]) == 2  # type: ignore[index]
    assert manifest["summarised"] is True and manifest["tensors_omitted"] == 4  # type: ignore[index]
    data = mf.safetensors_bytes(models["cnn"])
    full = [fingerprint(t) for t in load_tensors(data, SAFETENSORS)]
    assert manifest["tensors"][0]["sha256"] == sorted(full, key=lambda p: p.name)[0].sha256  # type: ignore[index]
