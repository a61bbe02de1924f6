"""Data and trained models for the learned-detector tests, built once per test session.

The data come from :mod:`detectors.learned.synthetic_data` (scikit-image / scikit-learn photos,
small up-sampling generators, a small AutoencoderKL); the detectors are trained on them with the
same functions ``provreg train`` runs. Everything is cached in one temporary folder per process.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from detectors.learned.spec import ModelSpec
from registry.models import ModelStore

#: Real tiles used by the tests (the docs' figures use every tile: see docs/detectors/).
TEST_TILES = 96


@functools.cache
def workdir() -> Path:
    """One scratch folder for the session, removed at exit."""
    path = Path(tempfile.mkdtemp(prefix="provreg-learned-"))
    atexit.register(shutil.rmtree, path, True)
    return path


@functools.cache
def dataset() -> Path:
    """``real``, ``fake``, ``laundered``, ``synthetic`` folders and ``autoencoder.safetensors``."""
    import torch

    from detectors.learned.synthetic_data import build

    torch.set_num_threads(1)  # a shared 2-core box: a second thread mostly spins
    out = workdir() / "data"
    build(out, limit=TEST_TILES, seed=0)
    return out


@functools.cache
def store() -> ModelStore:
    """A store holding the trained ``synthetic`` and ``laundering`` models and the autoencoder."""
    import json

    from detectors.laundering.train import train_laundering
    from detectors.synthetic.train import train_synthetic

    data = dataset()
    models = ModelStore(workdir() / "home" / "models")
    config = json.loads((data / "autoencoder.json").read_text())
    models.add(
        "tiny-vae",
        data / "autoencoder.safetensors",
        kind="autoencoder",
        architecture="autoencoder_kl",
        config=config,
        source="synthetic_data.py",
    )
    result = train_synthetic(
        data / "real", data / "fake", "npr-test", steps=150, seed=0, device="cpu"
    )
    models.add(
        "npr-test",
        result.path,
        kind="synthetic",
        fmt="safetensors",
        architecture=result.architecture,
        config=result.config,
        card=result.card,
    )
    result = train_laundering(
        data / "real",
        data / "laundered",
        data / "synthetic",
        "laundering-test",
        autoencoders=[models.resolve("tiny-vae")],
        steps=200,
        seed=0,
        device="cpu",
    )
    models.add(
        "laundering-test",
        result.path,
        kind="laundering",
        fmt="safetensors",
        architecture=result.architecture,
        config=result.config,
        card=result.card,
    )
    return models


def spec(name: str) -> ModelSpec:
    """The resolved spec of a trained test model."""
    return store().resolve(name)
