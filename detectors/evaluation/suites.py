"""Attack suites and the per-run state some attacks need.

``default``: every family at several strengths (the full report); ``quick``: one or two
strengths per family; ``standard``: the removal transforms only; per-detector presets
(``watermark``, ``copy``, ``c2pa``, ``metadata``) replace the old per-detector bench scripts
and pick the families each of them measured. Strength is the family's harshness on [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detectors.evaluation import adversarial as adv
from detectors.evaluation import transforms as tf
from detectors.evaluation.attacks import Attack
from detectors.evaluation.regenerate import regeneration


def _scaled(values: Sequence[float], lo: float, hi: float) -> list[tuple[float, float]]:
    """(value, strength) with strength linear from ``lo`` (weak) to ``hi`` (strong)."""
    return [(v, round(abs(v - lo) / abs(hi - lo), 3) if hi != lo else 1.0) for v in values]


def standard(quick: bool) -> list[Attack]:
    """Removal transforms: encodings, geometry, filtering, overlays, collage, strip."""
    qualities = (90, 50) if quick else (95, 75, 50, 30)
    out: list[Attack] = []
    for sub, fam in ((0, "jpeg-444"), (2, "jpeg-420")):
        out += [
            Attack(fam, s, {"quality": int(q)}, tf.jpeg(int(q), sub))
            for q, s in _scaled(qualities, 100, 30)
        ]
    out += [
        Attack("webp", s, {"quality": int(q)}, tf.webp(int(q)))
        for q, s in _scaled((80,) if quick else (90, 70, 50), 100, 50)
    ]
    out.append(Attack("social", 1.0, {"scale": 0.75, "quality": 75}, tf.social(0.75, 75)))
    scales = (0.5,) if quick else (0.75, 0.5, 0.25)
    out += [
        Attack("resize", s, {"scale": v, "restore": True}, tf.resize(v, True))
        for v, s in _scaled(scales, 1.0, 0.25)
    ]
    out += [
        Attack("crop", s, {"fraction": f}, tf.crop(f))
        for f, s in _scaled((0.1, 0.5) if quick else (0.01, 0.1, 0.25, 0.5), 0.0, 0.5)
    ]
    out.append(Attack("pad", 0.5, {"fraction": 0.1}, tf.pad(0.1)))
    out.append(Attack("screenshot", 1.0, {"template": "augly-default"}, tf.screenshot()))
    out += [
        Attack("rotate", s, {"degrees": d}, tf.rotate(d))
        for d, s in ((5.0, 0.5), (90.0, 1.0))
        if not (quick and d == 5.0)
    ] + ([] if quick else [Attack("rotate", 0.2, {"degrees": 2.0}, tf.rotate(2.0))])
    out.append(Attack("flip", 1.0, {"axis": "horizontal"}, tf.flip()))
    out += [
        Attack("blur", s, {"sigma": v}, tf.blur(v))
        for v, s in _scaled((2.0,) if quick else (0.5, 1.0, 2.0), 0.0, 2.0)
    ]
    out += [
        Attack("noise", s, {"sigma": v}, tf.noise(v))
        for v, s in _scaled((10.0,) if quick else (2.0, 5.0, 10.0, 20.0), 0.0, 20.0)
    ]
    out += [
        Attack("colour-jitter", s, {"amount": v}, tf.colour_jitter(v))
        for v, s in _scaled((0.3,) if quick else (0.1, 0.3), 0.0, 0.3)
    ]
    out.append(
        Attack(
            "brightness-contrast",
            0.5,
            {"brightness": 1.2, "contrast": 0.8},
            tf.brightness_contrast(1.2, 0.8),
        )
    )
    out += [
        Attack("text-overlay", s, {"font_size": v}, tf.text_overlay(v))
        for v, s in _scaled((0.15,) if quick else (0.08, 0.15), 0.0, 0.15)
    ]
    out += [
        Attack("emoji-overlay", s, {"size": v}, tf.emoji_overlay(v))
        for v, s in _scaled((0.3,) if quick else (0.15, 0.3), 0.0, 0.3)
    ]
    out += [
        Attack("collage", s, {"scale": v}, tf.collage(v))
        for v, s in _scaled((0.5,) if quick else (0.75, 0.5), 1.0, 0.5)
    ]
    out.append(Attack("metadata-strip", 1.0, {}, tf.strip_metadata()))
    return out


def adversarial(quick: bool) -> list[Attack]:
    """Forgeries (negatives only) and the averaging and regeneration removals."""
    return [
        Attack(
            "metadata-forge",
            1.0,
            {"source": "a1111-png text chunks"},
            adv.metadata_forge(),
            "forgery",
        ),
        Attack(
            "c2pa-transplant",
            1.0,
            {"source": "trainedAlgorithmicMedia PNG (caBX)"},
            adv.c2pa_transplant(),
            "forgery",
        ),
        Attack(
            "watermark-spoof",
            1.0,
            {"payload": "sdxl", "order": "bgr"},
            adv.watermark_spoof("bgr"),
            "forgery",
        ),
        *[
            Attack("averaging", w, {"weight": w, "sigma": 2.0}, adv.averaging(w))
            for w in ((1.0,) if quick else (0.5, 1.0))
        ],
        Attack("regeneration", 1.0, {"model": "small-autoencoder"}, regeneration()),
    ]


def _only(*families: str) -> Callable[[bool], list[Attack]]:
    def build(quick: bool) -> list[Attack]:
        return [a for a in standard(quick) + adversarial(quick) if a.family in families]

    return build


SUITES: dict[str, Callable[[bool], list[Attack]]] = {
    "default": lambda quick: standard(quick) + adversarial(quick),
    "standard": standard,
    "adversarial": adversarial,
    "watermark": _only(
        "jpeg-444",
        "jpeg-420",
        "resize",
        "crop",
        "noise",
        "averaging",
        "regeneration",
        "watermark-spoof",
    ),
    "copy": _only(
        "jpeg-420",
        "crop",
        "noise",
        "text-overlay",
        "pad",
        "screenshot",
        "flip",
        "rotate",
        "collage",
        "emoji-overlay",
    ),
    "c2pa": _only("metadata-strip", "jpeg-420", "c2pa-transplant", "social"),
    "metadata": _only("metadata-strip", "jpeg-444", "webp", "social", "metadata-forge"),
}
#: Which detectors a preset runs (``--preset NAME``).
PRESET_DETECTORS = {
    "watermark": ["watermark"],
    "copy": ["copy"],
    "c2pa": ["c2pa"],
    "metadata": ["metadata"],
}


def build(suite: str, quick: bool) -> list[Attack]:
    """The attacks of ``suite``: a suite name or comma-separated family names (all their
    strengths); raises ``KeyError`` naming what is unknown."""
    if suite in SUITES:
        return SUITES[suite](quick)
    families = [name.strip() for name in suite.split(",") if name.strip()]
    every = SUITES["default"](quick)
    unknown = sorted(set(families) - {a.family for a in every})
    if unknown or not families:
        raise KeyError(f"unknown suite or attack family: {', '.join(unknown) or suite!r}")
    return [a for a in every if a.family in families]


def shared_state(
    attacks: Sequence[Attack],
    *,
    marked: Sequence[np.ndarray[Any, Any]],
    clean: Sequence[np.ndarray[Any, Any]],
    seed: int,
    quick: bool,
    vae_dir: Path | None = None,
) -> dict[str, Any]:
    """Objects the suite's attacks read from ``AttackContext.shared``, built once per run.

    ``marked``: images carrying the fixed watermark (the averaging attacker's collection);
    ``clean``: natural images (the autoencoder's training set).
    """
    families = {a.family for a in attacks}
    shared: dict[str, Any] = {}
    if "metadata-forge" in families:
        from detectors.testing.metadata_fixtures import png_with_text
        from detectors.testing.metadata_records import A1111_PARAMETERS

        shared["metadata-forge"] = png_with_text({"parameters": A1111_PARAMETERS})
    if "c2pa-transplant" in families:
        from detectors.testing import c2pa_fixtures as cf

        donor = cf.noise_bytes(seed, "PNG", 128)
        shared["c2pa-transplant"] = cf.sign(donor, "PNG", cf.created_manifest(cf.TRAINED))
    if "watermark-spoof" in families:
        from detectors.watermark import BUILTIN_PAYLOADS

        shared["watermark-spoof"] = next(p for p in BUILTIN_PAYLOADS if p.name == "sdxl")
    if "averaging" in families:
        size = (marked[0].shape[1], marked[0].shape[0]) if marked else (256, 256)
        shared["averaging"] = adv.averaging_estimate(list(marked), size)
    if "regeneration" in families:
        from detectors.evaluation.regenerate import load_vae, train_autoencoder

        shared["regeneration"] = (
            load_vae(vae_dir)
            if vae_dir
            else train_autoencoder(list(clean), seed=seed, steps=60 if quick else 200)
        )
    return shared
