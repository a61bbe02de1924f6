"""Feature prototypes (``--method both``) with a backbone: a small CLIP ViT with random weights.

Random weights make no claim about accuracy; what is checked is the plumbing a real backbone
uses: prototypes and their nulls are built, stored in the gallery, loaded with the backbone
spec, and scored (both parts in the evidence).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detectors.attribution.detector import AttributionDetector
from detectors.attribution.fingerprint import enrol
from detectors.attribution.gallery import Gallery
from detectors.learned.files import sha256_file
from detectors.learned.spec import ModelSpec
from detectors.testing.conformance import sample_from_bytes

CONFIG = {
    "input_resolution": 32,
    "patch_size": 8,
    "width": 32,
    "layers": 1,
    "heads": 2,
    "output_dim": 16,
}


def _backbone(tmp: Path) -> ModelSpec:
    import torch
    from safetensors.torch import save_file

    from detectors.learned.archs import build

    torch.manual_seed(0)
    path = tmp / "vit.safetensors"
    save_file(
        {k: v.contiguous() for k, v in build("clip_vit", CONFIG).state_dict().items()}, str(path)
    )
    return ModelSpec(
        name="tiny-vit",
        path=str(path),
        sha256=sha256_file(path),
        format="safetensors",
        architecture="clip_vit",
        kind="backbone",
        config=CONFIG,
        card={"preprocess": {"input_size": 32}},
    )


def _images(seed: int, count: int) -> list[np.ndarray]:  # type: ignore[type-arg]
    pattern = np.random.default_rng(100 + seed).normal(0, 3, (32, 32, 3))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        base = rng.integers(60, 190, (8, 8, 3)).repeat(4, 0).repeat(4, 1).astype(np.float64)
        out.append(np.clip(base + pattern, 0, 255).astype(np.uint8))
    return out


@pytest.mark.slow
def test_both_methods_store_load_and_score(tmp_path: Path) -> None:
    from detectors.learned.runtime import load_runner

    spec = _backbone(tmp_path)
    backbone = (load_runner(spec, "cpu"), spec)
    fps = [enrol(f"gen-{s}", _images(s, 16), "both", backbone=backbone) for s in (1, 2)]
    assert all(fp.prototype is not None and fp.feature_null is not None for fp in fps)
    gallery = Gallery(fps)
    path = tmp_path / "gallery.safetensors"
    gallery.save(path)
    assert Gallery.load(path).needs_features
    options = {
        "model": {
            "name": "g",
            "path": str(path),
            "sha256": sha256_file(path),
            "format": "safetensors",
            "architecture": None,
            "kind": "attribution",
            "backbone": spec.to_options(),
        },
        "device": "cpu",
    }
    detector = AttributionDetector(options)
    detector.load()
    assert detector.problem is None, detector.problem
    samples = []
    for seed in (1, 2):
        buffer = io.BytesIO()
        Image.fromarray(_images(seed, 17)[16]).save(buffer, "PNG")  # not an enrolment image
        samples.append(sample_from_bytes(buffer.getvalue()))
    verdicts = detector.detect_batch(samples)
    for seed, verdict in zip((1, 2), verdicts, strict=True):
        assert verdict.error is None, verdict.evidence
        rows = {r["generator"]: r for r in verdict.evidence["top_k"]}  # type: ignore[union-attr]
        own, other = rows[f"gen-{seed}"], rows[f"gen-{3 - seed}"]
        assert "feature_cosine" in own and "residual_ncc" in own
        # random backbone weights say nothing: only the residual part must tell them apart
        assert own["residual_ncc"] > other["residual_ncc"], rows
        assert np.isfinite(own["feature_cosine"]) and np.isfinite(own["z"])
