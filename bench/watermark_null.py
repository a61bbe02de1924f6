"""Measure the null distribution of the watermark tests on clean images.

Clean images: every photo scikit-image and scikit-learn ship (native size and 512 x 512),
their 300 x 300 corner patches, and re-encodes of the 512 x 512 versions (JPEG 4:4:4 q90,
JPEG 4:2:0 q75, 0.5x resize). Each is decoded (dwtDct, both channel orders, uint8 and
float32 arrays) and compared with the built-in payloads and with ``--keys`` random balanced
keys per length (32, 48, 136 bits): raw p-values of the hard (binomial) and soft tests.
RivaGAN (``--rivagan``): the logits of every clean 256 x 256 centre crop against the random
32-bit keys. Prints, per statistic, how many raw p-values fall at or below 0.1, 0.01, 0.001
and 1e-4 against the count the model predicts, and the smallest one.

    nice -n 10 .venv/bin/python bench/watermark_null.py [--keys 64] [--rivagan [--skip-dwt]]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.testing.watermark_fixtures import crops, natural_photos, resized
from detectors.watermark import BUILTIN_PAYLOADS
from detectors.watermark.decode import ORDERS, decode_blocks
from detectors.watermark.soft import soft_p_value
from detectors.watermark.stats import binomial_tail

LEVELS = (0.1, 0.01, 1e-3, 1e-4)


def _reencode(rgb: np.ndarray, fmt: str, **options: object) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format=fmt, **options)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))


def clean_images() -> list[tuple[str, np.ndarray]]:
    """Photos, patches and re-encodes (name, RGB array)."""
    images: list[tuple[str, np.ndarray]] = []
    for name, rgb in natural_photos():
        small = resized(rgb)
        images += [(name, rgb), (f"{name}-512", small)]
        images += [(f"{name}-patch{i}", c) for i, c in enumerate(crops(rgb))]
        images.append((f"{name}-q90", _reencode(small, "JPEG", quality=90, subsampling=0)))
        images.append((f"{name}-q75-420", _reencode(small, "JPEG", quality=75, subsampling=2)))
        images.append((f"{name}-half", resized(small, (256, 256))))
    return images


def random_keys(count: int, n: int, seed: int) -> list[tuple[int, ...]]:
    """``count`` random keys of ``n`` bits with as many ones as zeros (as registration asks)."""
    rng = np.random.default_rng(seed)
    keys = []
    for _ in range(count):
        bits = np.array([1] * (n // 2) + [0] * (n - n // 2))
        rng.shuffle(bits)
        keys.append(tuple(int(b) for b in bits))
    return keys


def summarise(label: str, p_values: list[float]) -> str:
    """One markdown row: observed vs expected counts at each level, and the minimum."""
    values = np.asarray(p_values)
    cells = [f"{int((values <= level).sum())} / {level * len(values):.1f}" for level in LEVELS]
    return f"| {label} | {len(values)} | " + " | ".join(cells) + f" | {values.min():.3g} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=64, help="random keys per length")
    parser.add_argument("--rivagan", action="store_true", help="also RivaGAN (slow on CPU)")
    parser.add_argument("--skip-dwt", action="store_true", help="only RivaGAN")
    args = parser.parse_args()
    images = clean_images()
    keys = {n: random_keys(args.keys, n, seed=n) for n in (32, 48, 136)}
    rows: dict[str, list[float]] = {}
    for _, rgb in [] if args.skip_dwt else images:
        if rgb.shape[0] * rgb.shape[1] < 256 * 256:
            continue
        for domain in ("uint8", "float32"):
            for order in ORDERS:
                blocks = decode_blocks(rgb, "dwtDct", order, domain)
                for n, candidates in keys.items():
                    soft, hard = blocks.fold_soft(n), blocks.fold(n)
                    if soft is None:
                        raise RuntimeError("dwtDct must give soft scores")
                    for key in candidates:
                        k = sum(a == b for a, b in zip(hard, key, strict=True))
                        rows.setdefault("random keys, hard", []).append(binomial_tail(k, n))
                        rows.setdefault("random keys, soft", []).append(soft_p_value(soft, key)[0])
                for payload in BUILTIN_PAYLOADS:
                    if domain not in payload.domains:
                        continue
                    soft, hard = blocks.fold_soft(payload.n), blocks.fold(payload.n)
                    if soft is None:
                        raise RuntimeError("dwtDct must give soft scores")
                    k = sum(a == b for a, b in zip(hard, payload.bits, strict=True))
                    rows.setdefault("built-in payloads, hard", []).append(
                        binomial_tail(k, payload.n)
                    )
                    rows.setdefault("built-in payloads, soft", []).append(
                        soft_p_value(soft, payload.bits)[0]
                    )
    if args.rivagan:
        from detectors.watermark.learned import LearnedDecoder, fit_image, rivagan_manifest

        decoder = LearnedDecoder(rivagan_manifest())
        tiles = [fit_image(Image.fromarray(rgb), decoder.manifest) for _, rgb in images]
        batch = np.stack([t for t in tiles if t is not None])
        logits = np.concatenate(
            [decoder.scores(batch[i : i + 16]) for i in range(0, len(batch), 16)]
        )
        for row in logits:
            for key in keys[32]:
                hard = tuple(int(v > 0) for v in row)
                k = sum(a == b for a, b in zip(hard, key, strict=True))
                rows.setdefault("RivaGAN, random keys, hard", []).append(binomial_tail(k, 32))
                rows.setdefault("RivaGAN, random keys, soft", []).append(soft_p_value(row, key)[0])
    judged = sum(1 for _, rgb in images if rgb.shape[0] * rgb.shape[1] >= 256 * 256)
    print(
        f"clean images: {judged} (photos, 512 px resizes, 300 px patches, JPEG q90 4:4:4, "
        f"JPEG q75 4:2:0, 256 px resizes); random keys: {args.keys} per length (32, 48, 136)"
    )
    print("cell: raw p-values at or below the level, observed / expected under the model\n")
    print("| tests | p-values | <= 0.1 | <= 0.01 | <= 1e-3 | <= 1e-4 | smallest |")
    print("|---|---|---|---|---|---|---|")
    for label, values in rows.items():
        print(summarise(label, values))


if __name__ == "__main__":
    main()
