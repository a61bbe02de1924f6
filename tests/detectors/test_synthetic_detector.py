"""The ``synthetic`` detector trained on the stand-in data (tests/learned_fixtures.py).

Positives are held-out generator outputs, negatives held-out real tiles: the model never saw
them. The conformance base checks the detector contract on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from detectors.base import Sample
from detectors.synthetic.detector import SyntheticDetector
from detectors.testing.conformance import DetectorConformance, sample_from_bytes
from tests import learned_fixtures


def held_out(folder: str, count: int, seed: int) -> list[Sample]:
    """Up to ``count`` files of the held-out split of a class folder: the same seeded split
    training made (``split(n, 0.25, seed)`` over the sorted files), so the model never saw them."""
    from detectors.learned.training import split

    files = sorted((learned_fixtures.dataset() / folder).iterdir())
    _, held = split(len(files), 0.25, seed)
    return [sample_from_bytes(files[i].read_bytes()) for i in held[:count]]


class TestSyntheticConformance(DetectorConformance):
    detector_class: ClassVar[type[SyntheticDetector]] = SyntheticDetector

    @property
    def options(self) -> Mapping[str, Any]:  # type: ignore[override]
        return {"model": learned_fixtures.spec("npr-test").to_options()}

    def _judged(self) -> tuple[list[Sample], list[Sample]]:
        detector = self.make_detector()
        fakes = held_out("fake", 24, 1)
        reals = held_out("real", 24, 0)
        fake_v = detector.detect_batch(fakes)
        real_v = detector.detect_batch(reals)
        return (
            [s for s, v in zip(fakes, fake_v, strict=True) if v.positive],
            [s for s, v in zip(reals, real_v, strict=True) if not v.positive],
        )

    def positive_examples(self) -> list[tuple[Sample, str]]:
        flagged, _ = self._judged()
        assert len(flagged) >= 8, f"only {len(flagged)} of 24 held-out fakes flagged"
        return [(s, "synthetic") for s in flagged[:4]]

    def negative_examples(self) -> list[Sample]:
        _, passed = self._judged()
        assert len(passed) >= 20, f"{24 - len(passed)} of 24 held-out reals flagged"
        return passed[:4]


def test_model_card_reports_held_out_metrics() -> None:
    entry = learned_fixtures.store().get("npr-test")
    metrics = entry.card["metrics"]
    assert metrics["auroc"] > 0.9, metrics
    assert metrics["held_out_fpr"] <= 0.05, metrics
    assert entry.card["trained_on"]["held_out_real"] == 24  # 25% of 96
    assert entry.card["calibration"]["null_set"].startswith("held-out real images")


def test_verdict_carries_calibrated_fpr_and_card() -> None:
    detector = SyntheticDetector({"model": learned_fixtures.spec("npr-test").to_options()})
    verdicts = detector.detect_batch(held_out("fake", 6, 1) + held_out("real", 6, 0))
    for verdict in verdicts:
        assert verdict.error is None
        assert verdict.p_value is not None and 0 < verdict.p_value <= 1
        assert verdict.evidence["model"]["name"] == "npr-test"  # type: ignore[index]
        assert verdict.evidence["null_set"]
        assert verdict.model_checksum == learned_fixtures.spec("npr-test").sha256
    fakes, reals = verdicts[:6], verdicts[6:]
    assert min(v.score or 0 for v in fakes) > max(v.score or 0 for v in reals) - 10  # sanity
    flagged = [v for v in verdicts if v.positive]
    assert all(v.p_value is not None and v.p_value <= 0.05 for v in flagged)


@pytest.mark.slow
def test_train_command_writes_the_store(provreg_env: dict[str, str], tmp_path: Path) -> None:
    from tests.registry.test_cli import json_lines, provreg

    data = learned_fixtures.dataset()
    out = provreg(
        provreg_env,
        "train",
        "synthetic",
        "--real",
        str(data / "real"),
        "--fake",
        str(data / "fake"),
        "--out",
        "cli-npr",
        "--steps",
        "30",
        "--json",
        "--device",
        "cpu",
        timeout=600,
    )
    (report,) = json_lines(out.stdout)
    assert set(report["metrics"]) >= {"auroc", "tpr_at_0.01_fpr"}
    listed = json_lines(provreg(provreg_env, "models", "list", "--json").stdout)
    assert [m["name"] for m in listed] == ["cli-npr"]
    assert listed[0]["sha256"] == report["sha256"]


def test_linear_probe_trains_on_a_frozen_backbone(tmp_path: Path) -> None:
    import torch

    from detectors.learned.archs import build
    from detectors.synthetic.train import train_synthetic
    from registry.models import ModelStore
    from tests.detectors.test_learned_loaders import TINY_CLIP

    torch.manual_seed(0)
    torch.save(
        {f"visual.{k}": v for k, v in build("clip_vit", TINY_CLIP).state_dict().items()},
        tmp_path / "clip.pt",
    )
    store = ModelStore(tmp_path / "models")
    store.add(
        "clip-tiny",
        tmp_path / "clip.pt",
        kind="backbone",
        architecture="clip_vit",
        config=TINY_CLIP,
        card={"preprocess": {"input_size": 32}},
    )
    data = learned_fixtures.dataset()
    result = train_synthetic(
        data / "real",
        data / "fake",
        "probe",
        steps=20,
        device="cpu",
        backbone=store.resolve("clip-tiny"),
    )
    assert result.architecture == "linear_probe" and result.config == {"features": 16}
    assert result.card["method"] == "probe" and result.card["backbone"] == "clip-tiny"
    assert 0.0 <= result.metrics["auroc"] <= 1.0
    entry = store.add(
        "probe",
        result.path,
        kind="synthetic",
        fmt="safetensors",
        architecture=result.architecture,
        config=result.config,
        card=result.card,
    )
    detector = SyntheticDetector({"model": store.resolve(entry.name).to_options()})
    (verdict,) = detector.detect_batch(held_out("real", 1, 0))
    assert verdict.error is None and verdict.p_value is not None
