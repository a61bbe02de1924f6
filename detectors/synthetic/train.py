"""``provreg train synthetic``: fit an NPR CNN or a linear probe, calibrate, measure.

The held-out split is judged by :class:`SyntheticDetector` loaded from the weights just written,
the threshold is set at ``fpr`` on the held-out real images, and the card records the data
counts, TPR at that FPR, AUROC, and the null scores the detector turns into p-values.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from detectors.learned.archs import build, get_architecture
from detectors.learned.calibration import auroc, calibrate
from detectors.learned.errors import LearnedModelError
from detectors.learned.files import sha256_file
from detectors.learned.runtime import default_device, load_module
from detectors.learned.spec import ModelSpec
from detectors.learned.training import fit, metrics_json, read_folder, samples, save_weights, split


@dataclass(frozen=True)
class TrainResult:
    """Weights written to a temporary file, and what the store entry records about them."""

    path: str
    architecture: str
    config: dict[str, Any]
    card: dict[str, Any]

    @property
    def metrics(self) -> dict[str, Any]:
        """The held-out metrics."""
        return dict(self.card["metrics"])


def train_synthetic(
    real_dir: str | os.PathLike[str],
    fake_dir: str | os.PathLike[str],
    name: str,
    *,
    backbone: ModelSpec | None = None,
    steps: int = 300,
    batch: int = 32,
    fpr: float = 0.01,
    holdout: float = 0.25,
    seed: int = 0,
    device: str | None = None,
    progress: Callable[[Iterator[int]], Iterator[int]] = iter,
) -> TrainResult:
    """Train on ``real_dir`` vs ``fake_dir``: NPR (``npr_tiny``) or, with ``backbone``, a
    linear probe on its frozen features."""
    from detectors.synthetic.detector import SyntheticDetector

    device = device or default_device()
    if backbone is None:
        method, architecture = "npr", "npr_tiny"
        arch = get_architecture(architecture)
        config = dict(arch.defaults)
        size, mean, std = arch.input_size, arch.mean, arch.std
        model = build(architecture, config)
        features = None
        lr = 2e-3
    else:
        method, architecture = "probe", "linear_probe"
        size, mean, std = backbone.input_size, backbone.mean, backbone.std
        frozen = load_module(backbone).to(device).eval()
        with torch.no_grad():
            dim = int(frozen(torch.zeros(1, 3, size, size, device=device)).shape[-1])
        config = {"features": dim}
        model = build(architecture, config)
        features = frozen
        lr = 1e-2
    real, fake = read_folder(real_dir, size // 4), read_folder(fake_dir, size // 4)
    if len(real.images) < 2 or len(fake.images) < 2:
        raise ValueError(
            f"need at least 2 readable images per class; got {len(real.images)} "
            f"real and {len(fake.images)} fake"
        )
    real_train, real_held = split(len(real.images), holdout, seed)
    fake_train, fake_held = split(len(fake.images), holdout, seed + 1)
    from detectors.learned.preprocess import pad_to

    classes = [
        [pad_to(real.images[i], size)[0] for i in real_train],
        [pad_to(fake.images[i], size)[0] for i in fake_train],
    ]
    losses = fit(
        model,
        classes,
        size=size,
        mean=mean,
        std=std,
        steps=steps,
        batch=batch,
        lr=lr,
        device=device,
        seed=seed,
        binary=True,
        features=features,
        progress=progress,
    )
    path = save_weights(model)
    card: dict[str, Any] = {
        "method": method,
        "preprocess": {"input_size": size, "mean": list(mean), "std": list(std)},
        "description": f"{method} trained by provreg train synthetic",
    }
    if backbone is not None:
        card["backbone"] = backbone.name
    spec = ModelSpec(
        name=name,
        path=path,
        sha256=sha256_file(path),
        format="safetensors",
        architecture=architecture,
        kind="synthetic",
        config=config,
        card=card,
        backbone=backbone,
    )
    detector = SyntheticDetector({"model": spec.to_options()})
    detector.load()
    if detector.problem is not None:
        raise LearnedModelError(f"the trained model does not load: {detector.problem}")
    null = _scores(detector, [real.data[i] for i in real_held])
    positive = _scores(detector, [fake.data[i] for i in fake_held])
    calibration = calibrate(
        null, fpr, f"held-out real images from {os.fspath(real_dir)} ({len(null)})"
    )
    tpr = float(np.mean(np.asarray(positive) >= calibration.threshold))
    card["calibration"] = calibration.to_json()
    card["metrics"] = metrics_json(
        {
            "auroc": auroc(null, positive),
            f"tpr_at_{fpr:g}_fpr": tpr,
            "held_out_fpr": float(np.mean(np.asarray(null) >= calibration.threshold)),
            "final_loss": float(np.mean(losses[-20:])),
        }
    )
    card["trained_on"] = {
        "real": len(real_train),
        "fake": len(fake_train),
        "held_out_real": len(real_held),
        "held_out_fake": len(fake_held),
        "skipped_files": real.skipped + fake.skipped,
        "steps": steps,
        "batch": batch,
        "seed": seed,
        "device": device,
    }
    return TrainResult(path, architecture, config, card)


def _scores(detector: Any, data: list[bytes]) -> list[float]:
    verdicts = detector.detect_batch(samples(data))
    bad = [v.error for v in verdicts if v.error]
    if bad:
        raise LearnedModelError(f"held-out images could not be judged: {bad[:3]}")
    return [float(v.score) for v in verdicts]
