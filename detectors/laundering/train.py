"""``provreg train laundering``: fit the 3-way patch classifier, calibrate, measure.

Held-out images are judged by :class:`LaunderingDetector` itself (loaded from the weights just
written). The card records the confusion matrix (rows: truth pristine / laundered /
fully-synthetic; columns: the detector's label), AUROC and TPR at ``fpr`` for pristine vs
the rest, and, per candidate autoencoder, the null distances on held-out pristine images with
the AUROC of the reconstruction distance alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from detectors.learned.archs import build, get_architecture
from detectors.learned.calibration import auroc, calibrate
from detectors.learned.errors import LearnedModelError
from detectors.learned.files import sha256_file
from detectors.learned.runtime import default_device
from detectors.learned.spec import ModelSpec
from detectors.learned.training import fit, metrics_json, read_folder, samples, save_weights, split
from detectors.synthetic.train import TrainResult

ARCH = "laundering_patchnet"


def train_laundering(
    real_dir: str | os.PathLike[str],
    laundered_dir: str | os.PathLike[str],
    synthetic_dir: str | os.PathLike[str],
    name: str,
    *,
    autoencoders: Sequence[ModelSpec] = (),
    steps: int = 400,
    batch: int = 48,
    fpr: float = 0.01,
    holdout: float = 0.25,
    seed: int = 0,
    device: str | None = None,
    progress: Callable[[Iterator[int]], Iterator[int]] = iter,
) -> TrainResult:
    """Train pristine vs laundered vs fully-synthetic on patches of the three folders."""
    from detectors.laundering.detector import CLASSES, PATCH, LaunderingDetector

    device = device or default_device()
    arch = get_architecture(ARCH)
    config = dict(arch.defaults)
    folders = [read_folder(d, PATCH) for d in (real_dir, laundered_dir, synthetic_dir)]
    if any(len(f.images) < 2 for f in folders):
        raise ValueError(
            "need at least 2 readable images per class; got "
            + ", ".join(str(len(f.images)) for f in folders)
        )
    splits = [split(len(f.images), holdout, seed + k) for k, f in enumerate(folders)]
    classes = [[f.images[i] for i in train] for f, (train, _) in zip(folders, splits, strict=True)]
    model = build(ARCH, config)
    losses = fit(
        model,
        classes,
        size=PATCH,
        mean=arch.mean,
        std=arch.std,
        steps=steps,
        batch=batch,
        lr=3e-3,
        device=device,
        seed=seed,
        binary=False,
        progress=progress,
    )
    path = save_weights(model)
    card: dict[str, Any] = {
        "method": "patch",
        "description": "3-way patch classifier trained by provreg train laundering",
        "preprocess": {"input_size": PATCH, "mean": list(arch.mean), "std": list(arch.std)},
        "autoencoders": [a.name for a in autoencoders],
    }
    spec = ModelSpec(
        name=name,
        path=path,
        sha256=sha256_file(path),
        format="safetensors",
        architecture=ARCH,
        kind="laundering",
        config=config,
        card=card,
        autoencoders=tuple(autoencoders),
    )
    detector = LaunderingDetector({"model": spec.to_options()})
    detector.load()
    if detector.problem is not None:
        raise LearnedModelError(f"the trained model does not load: {detector.problem}")
    held = [[f.data[i] for i in hold] for f, (_, hold) in zip(folders, splits, strict=True)]
    judged = [_judge(detector, data) for data in held]
    null = [score for score, _, _ in judged[0]]
    calibration = calibrate(
        null, fpr, f"held-out pristine images from {os.fspath(real_dir)} ({len(null)})"
    )
    card["calibration"] = calibration.to_json()
    confusion = [[0, 0, 0] for _ in CLASSES]
    for truth, rows in enumerate(judged):
        for score, probs, _ in rows:
            flagged = score >= calibration.threshold
            predicted = 0 if not flagged else (1 if probs[1] >= probs[2] else 2)
            confusion[truth][predicted] += 1
    altered = [score for rows in judged[1:] for score, _, _ in rows]
    metrics: dict[str, Any] = {
        "auroc_pristine_vs_rest": auroc(null, altered),
        f"tpr_at_{fpr:g}_fpr": float(np.mean(np.asarray(altered) >= calibration.threshold)),
        "held_out_fpr": float(np.mean(np.asarray(null) >= calibration.threshold)),
        "accuracy_3way": sum(confusion[i][i] for i in range(3)) / max(1, sum(map(sum, confusion))),
        "final_loss": float(np.mean(losses[-20:])),
    }
    card["confusion"] = {"rows_truth_columns_label": list(CLASSES), "matrix": confusion}
    calibrations = {}
    for ae in autoencoders:
        pristine = [-rows[2][ae.name] for rows in judged[0]]
        rest = [-r[2][ae.name] for rows in judged[1:] for r in rows]
        calibrations[ae.name] = calibrate(pristine, fpr, calibration.null_set).to_json()
        metrics[f"auroc_reconstruction_{ae.name}"] = auroc(pristine, rest)
    card["autoencoder_calibration"] = calibrations
    card["metrics"] = metrics_json(metrics)
    card["trained_on"] = {
        **{f"{c}": len(t) for c, (t, _) in zip(CLASSES, splits, strict=True)},
        **{f"held_out_{c}": len(h) for c, (_, h) in zip(CLASSES, splits, strict=True)},
        "skipped_files": sum(f.skipped for f in folders),
        "steps": steps,
        "batch": batch,
        "seed": seed,
        "device": device,
    }
    return TrainResult(path, ARCH, config, card)


def _judge(detector: Any, data: list[bytes]) -> list[tuple[float, list[float], dict[str, float]]]:
    out = []
    for verdict in detector.detect_batch(samples(data)):
        if verdict.error:
            raise LearnedModelError(f"a held-out image could not be judged: {verdict.error}")
        probs = verdict.evidence["probabilities"]
        distances = {
            k: float(v["distance"]) for k, v in (verdict.evidence.get("autoencoders") or {}).items()
        }
        out.append(
            (
                float(verdict.score),
                [float(probs[c]) for c in ("pristine", "laundered", "fully-synthetic")],
                distances,
            )
        )
    return out
