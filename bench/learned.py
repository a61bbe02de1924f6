"""Images per second of the learned detectors, per model, device and batch size.

Each case builds its architecture with random weights (speed does not depend on the weights),
writes it to a scratch model store, loads it through the detector as production does, and
times ``detect_batch`` on 512x512 photos (scikit-image's astronaut, shifted per image) at each
batch size: preprocessing (crops, normalisation) included, decoding not. Median of
``--repeat`` runs after one warm-up.

    nice -n 10 .venv/bin/python bench/learned.py [--device cpu|cuda] [--batches 1,8,32]
        [--cases npr-tiny,npr-resnet50,univfd-vitl14,laundering-patch,sd-vae-512] [--repeat 3]

Case ``attribution`` enrols ``--generators`` generators from 64 of those photos each (noise
of a different seed added per generator, so their fingerprints differ), prints the enrolment
time per 1,000 images (line ``attribution-enrol``), then times the detector on that gallery.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.base import Detector, Sample
from detectors.laundering.detector import LaunderingDetector
from detectors.learned.archs import build
from detectors.synthetic.detector import SyntheticDetector
from registry.models import ModelStore

SD_VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "sample_size": 512,
}


def photos(count: int) -> list[Sample]:
    """``count`` distinct 512x512 PNG samples of the astronaut photo (rolled per image)."""
    from skimage import data

    base = data.astronaut()
    out = []
    for i in range(count):
        buffer = io.BytesIO()
        Image.fromarray(np.roll(base, i * 7, axis=1)).save(buffer, "PNG", compress_level=1)
        blob = buffer.getvalue()
        img = Image.open(io.BytesIO(blob))
        img.load()
        out.append(Sample(hashlib.sha256(blob).hexdigest(), blob, "image/png", img))
    return out


def _save(module: torch.nn.Module, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return path


def case(name: str, store: ModelStore, tmp: Path) -> Callable[[dict[str, Any]], Detector]:
    """A detector factory for one benchmark case (options: device, batch size)."""
    torch.manual_seed(0)
    if name in ("npr-tiny", "npr-resnet50"):
        arch = "npr_tiny" if name == "npr-tiny" else "npr_resnet50"
        store.add(
            name,
            _save(build(arch), tmp / f"{name}.safetensors"),
            kind="synthetic",
            architecture=arch,
            card={"method": "npr"},
        )
        return lambda o: SyntheticDetector({"model": store.resolve(name).to_options(), **o})
    if name == "univfd-vitl14":
        store.add(
            "vitl14",
            _save(build("clip_vit"), tmp / "vitl14.safetensors"),
            kind="backbone",
            architecture="clip_vit",
        )
        store.add(
            name,
            _save(build("linear_probe"), tmp / "fc.safetensors"),
            kind="synthetic",
            architecture="linear_probe",
            card={"method": "probe", "backbone": "vitl14"},
        )
        return lambda o: SyntheticDetector(
            {"model": store.resolve(name).to_options(), "max_crops": 1, **o}
        )
    if name in ("laundering-patch", "sd-vae-512"):
        store.add(
            "patchnet",
            _save(build("laundering_patchnet"), tmp / "p.safetensors"),
            kind="laundering",
            architecture="laundering_patchnet",
            card={"method": "patch"},
        )
        card: dict[str, Any] = {"method": "patch"}
        if name == "sd-vae-512":
            store.add(
                "sd-vae",
                _save(build("autoencoder_kl", SD_VAE), tmp / "vae.safetensors"),
                kind="autoencoder",
                architecture="autoencoder_kl",
                config=SD_VAE,
            )
            card["autoencoders"] = ["sd-vae"]
        store.add(
            name,
            store.blob_path(store.get("patchnet").sha256),
            kind="laundering",
            fmt="safetensors",
            architecture="laundering_patchnet",
            card=card,
        )

        return lambda o: LaunderingDetector(
            {"model": store.resolve(name).to_options(), "recon_side": 512, **o}
        )
    if name == "attribution":
        return _attribution(store, tmp)
    raise SystemExit(f"unknown case {name}")


ENROL_IMAGES = 64


def _attribution(store: ModelStore, tmp: Path) -> Callable[[dict[str, Any]], Detector]:
    from detectors.attribution.detector import AttributionDetector
    from detectors.attribution.fingerprint import enrol
    from detectors.attribution.gallery import Gallery

    base = [np.asarray(s.image, dtype=np.uint8) for s in photos(ENROL_IMAGES)]
    fingerprints, seconds = [], 0.0
    for index in range(GENERATORS[0]):
        rng = np.random.default_rng(index)
        pattern = rng.normal(0, 3, base[0].shape)
        images = [np.clip(img + pattern, 0, 255).astype(np.uint8) for img in base]
        started = time.perf_counter()
        fingerprints.append(enrol(f"gen-{index}", images))
        seconds += time.perf_counter() - started
    print(
        json.dumps(
            {
                "case": "attribution-enrol",
                "image_size": list(base[0].shape[:2]),
                "images": ENROL_IMAGES * len(fingerprints),
                "s_per_1000_images": round(seconds / (ENROL_IMAGES * len(fingerprints)) * 1000, 1),
            }
        ),
        flush=True,
    )
    Gallery(fingerprints).save(tmp / "gallery.safetensors")
    store.add(
        "attribution-gallery",
        tmp / "gallery.safetensors",
        kind="attribution",
        fmt="safetensors",
        card={"method": "gallery"},
    )
    return lambda o: AttributionDetector(
        {"model": store.resolve("attribution-gallery").to_options(), **o}
    )


GENERATORS = [4]


def measure(detector: Detector, batch: list[Sample], repeat: int) -> tuple[float, float]:
    """Median images per wall second and per CPU second of this process (all threads) of
    ``detect_batch`` over ``repeat`` runs, after one warm-up. On a shared machine the CPU
    figure is the one that does not depend on what else runs."""
    detector.load()
    problem = getattr(detector, "problem", None)
    if problem:
        raise SystemExit(f"{detector.name}: {problem}")
    detector.detect_batch(batch)
    walls, cpus = [], []
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        verdicts = detector.detect_batch(batch)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        assert not any(v.error for v in verdicts), verdicts[0]
    return len(batch) / statistics.median(walls), len(batch) / statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument(
        "--cases", default="npr-tiny,npr-resnet50,univfd-vitl14,laundering-patch,sd-vae-512"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--generators", type=int, default=4, help="generators enrolled for the attribution case"
    )
    args = parser.parse_args()
    GENERATORS[0] = args.generators
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    images = photos(max(batches))
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        store = ModelStore(tmp / "models")
        for name in args.cases.split(","):
            make = case(name, store, tmp)
            for size in batches:
                detector = make({"batch_size": max(size, 1), "device": args.device})
                wall, cpu = measure(detector, images[:size], args.repeat)
                print(
                    json.dumps(
                        {
                            "case": name,
                            "device": args.device,
                            "batch": size,
                            "images_per_s": round(wall, 3),
                            "images_per_cpu_s": round(cpu, 3),
                            "threads": args.threads,
                        }
                    ),
                    flush=True,
                )


if __name__ == "__main__":
    main()
