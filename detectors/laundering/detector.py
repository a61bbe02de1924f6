"""Detector ``laundering``: pristine, laundered (a real photo passed through a latent-diffusion
autoencoder) or fully synthetic?

Seed: Mandelli et al., "When Synthetic Traces Hide Real Content: Analysis of Stable Diffusion
Image Laundering" (2024). Two signals, both in the evidence:

Patch classifier (decides the label)
    ``laundering_patchnet`` (trained by ``provreg train laundering``) gives 3-way probabilities
    for up to ``max_patches`` 32x32 patches on a grid; the image's probabilities are their
    mean. Score = 1 - P(pristine); at or above the card's calibrated threshold the label is
    ``laundered`` or ``fully-synthetic`` (whichever is likelier), else ``not-found``. The
    per-patch score grid is the anomaly map.
Reconstruction distance (AEROBLADE, Ricker et al. 2024)
    Each candidate autoencoder named in the card (diffusers ``AutoencoderKL`` weights, e.g. the
    SD / SDXL VAE) encodes and decodes a centre crop; images that came out of that autoencoder
    reconstruct almost perfectly. Mean absolute distance per autoencoder, with its empirical
    FPR on held-out pristine images when the card has it. AEROBLADE uses LPIPS; LPIPS needs
    VGG weights this project cannot ship, so the distance is in pixels (stated in the docs).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import numpy as np
import numpy.typing as npt

from detectors.base import JSONValue, Sample, Verdict
from detectors.learned.detector import LearnedDetector

CLASSES = ("pristine", "laundered", "fully-synthetic")
PATCH = 32
#: Side of the centre crop the autoencoders reconstruct (a multiple of 8, the SD VAE stride).
RECON_SIDE = 256


@dataclass(frozen=True)
class Patches:
    """One image's patches (normalised NCHW), their grid shape and the reconstruction crop."""

    patches: npt.NDArray[np.float32]
    grid: tuple[int, int]
    recon: npt.NDArray[np.float32]
    padded: bool
    original_size: tuple[int, int]


class LaunderingDetector(LearnedDetector[Patches]):
    """Pristine / laundered / fully-synthetic from a patch classifier and autoencoders."""

    name: ClassVar[str] = "laundering"
    version: ClassVar[str] = "1.0.0"
    model_kind: ClassVar[str] = "laundering"

    def load_model(self, spec: Any) -> None:
        from detectors.learned.runtime import TorchRunner, load_module, load_runner

        self.classifier = load_runner(spec, self.options.get("device"))
        self.autoencoders = [
            (ae.name, TorchRunner(load_module(ae), self.classifier.device))
            for ae in spec.autoencoders
        ]
        self.ae_calibration = spec.card.get("autoencoder_calibration") or {}
        self.calibration = spec.calibration
        self.threshold = (
            self.calibration.threshold
            if self.calibration is not None
            else float(spec.card.get("threshold", 0.5))
        )
        self.mean, self.std = spec.mean, spec.std
        self.max_patches = int(self.options.get("max_patches", 64))
        self.batch_size = int(self.options.get("batch_size", 256))
        self.ae_batch = int(self.options.get("autoencoder_batch_size", 8))
        self.recon_side = int(self.options.get("recon_side", RECON_SIDE)) // 8 * 8

    def prepare(self, sample: Sample) -> Patches:
        from detectors.learned.preprocess import (
            TooSmallError,
            grid_positions,
            normalise,
            pad_to,
            to_rgb_array,
        )

        assert sample.image is not None
        pixels = to_rgb_array(sample.image)
        height, width = pixels.shape[:2]
        if min(height, width) < PATCH // 2:
            raise TooSmallError(f"image is {width}x{height}; patches are {PATCH}x{PATCH}")
        pixels, padded = pad_to(pixels, PATCH)
        positions = grid_positions(pixels.shape[0], pixels.shape[1], PATCH, self.max_patches)
        rows = len({r for r, _ in positions})
        cols = len(positions) // rows
        patches = normalise(
            np.stack([pixels[r : r + PATCH, c : c + PATCH] for r, c in positions]),
            self.mean,
            self.std,
        )
        side = min(self.recon_side, pixels.shape[0] // 8 * 8, pixels.shape[1] // 8 * 8)
        top, left = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
        recon = normalise(
            pixels[None, top : top + side, left : left + side], (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
        )[0]
        return Patches(patches, (rows, cols), recon, padded, (width, height))

    def probabilities(self, prepared: Sequence[Patches]) -> list[npt.NDArray[np.float64]]:
        """Per-patch class probabilities of each image."""
        flat = np.concatenate([p.patches for p in prepared])
        logits = np.concatenate(
            [
                self.classifier(flat[i : i + self.batch_size])
                for i in range(0, len(flat), self.batch_size)
            ]
        ).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        bounds = np.cumsum([0, *(len(p.patches) for p in prepared)])
        return [probs[a:b] for a, b in itertools.pairwise(bounds)]

    def distances(self, prepared: Sequence[Patches]) -> list[dict[str, float]]:
        """Mean absolute reconstruction error (in [0, 1] pixel units) per image and
        autoencoder; crops of one size go through the autoencoder together."""
        import torch

        out: list[dict[str, float]] = [{} for _ in prepared]
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, prep in enumerate(prepared):
            by_shape.setdefault(prep.recon.shape, []).append(index)
        for name, runner in self.autoencoders:
            model: Any = runner.module
            for indices in by_shape.values():
                for start in range(0, len(indices), self.ae_batch):
                    chunk = indices[start : start + self.ae_batch]
                    x = torch.from_numpy(np.stack([prepared[i].recon for i in chunk]))
                    x = x.to(runner.device)
                    with torch.inference_mode():  # float32: the SD VAE overflows in float16
                        y = model.decode(model.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
                    errors = (x - y).abs().mean(dim=(1, 2, 3)).cpu().numpy() / 2.0
                    for i, error in zip(chunk, errors, strict=True):
                        out[i][name] = round(float(error), 6)
        return out

    def judge(self, samples: Sequence[Sample], prepared: Sequence[Patches]) -> list[Verdict]:
        from detectors.learned.calibration import Calibration

        verdicts = []
        all_distances = self.distances(prepared) if self.autoencoders else [{}] * len(prepared)
        for sample, prep, probs, distances in zip(
            samples, prepared, self.probabilities(prepared), all_distances, strict=True
        ):
            mean = probs.mean(axis=0)
            score = float(1.0 - mean[0])
            anomaly = cast(JSONValue, (1.0 - probs[:, 0]).reshape(prep.grid).round(3).tolist())
            evidence: dict[str, JSONValue] = {
                "model": self.spec.summary(),
                "device": self.classifier.device,
                "probabilities": {
                    c: round(float(p), 6) for c, p in zip(CLASSES, mean, strict=True)
                },
                "threshold": self.threshold,
                "patches": len(probs),
                "patch_size": PATCH,
                "anomaly_map": anomaly,
            }
            if prep.padded:
                evidence["padded"] = {
                    "original_size": list(prep.original_size),
                    "reason": "smaller than a patch; padded with the mean colour",
                }
            if self.autoencoders:
                report: dict[str, JSONValue] = {}
                for name, distance in distances.items():
                    row: dict[str, JSONValue] = {"distance": distance}
                    calib = self.ae_calibration.get(name)
                    if calib:
                        # low distance is suspicious: the null set holds negated distances
                        row["fpr"] = Calibration.from_json(calib).fpr_at(-distance)
                    report[name] = row
                evidence["autoencoders"] = report
            p_value = None
            if self.calibration is not None:
                p_value = self.calibration.fpr_at(score)
                evidence["null_set"] = self.calibration.null_set
            if score >= self.threshold:
                label = CLASSES[1] if mean[1] >= mean[2] else CLASSES[2]
                verdicts.append(
                    self.verdict(
                        sample, label, True, score=score, p_value=p_value, evidence=evidence
                    )
                )
            else:
                verdicts.append(
                    self.not_found(sample, score=score, p_value=p_value, evidence=evidence)
                )
        return verdicts
