"""``provreg eval make-corpus``: a default corpus from the shipped photos and fixture builders.

Negatives: the scikit-image and scikit-learn photographs (nothing is downloaded), centre
square, ``size`` pixels. Positives, built with the project's own fixture builders:
the public SDXL watermark embedded in each negative photo (paired design); the
generator-metadata fixtures of every tool format; C2PA manifests declaring
trainedAlgorithmicMedia signed onto photos (self-signed test PKI); and copy-detection
references (other photos, indexed as the copy bank, so the corpus file is the bank's
original and every attack makes an edited copy of it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from detectors.evaluation.corpus import Item, save
from detectors.evaluation.imaging import encode

#: Shipped photos that become copy-bank references (the rest are negatives).
REFERENCES = ("coffee", "chelsea", "rocket", "sklearn-china", "motorcycle-left")


def square(rgb: np.ndarray[Any, Any], size: int) -> Image.Image:
    """Centre square of ``rgb`` resized to ``size``."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    crop = Image.fromarray(np.ascontiguousarray(rgb[y : y + side, x : x + side]))
    return crop.resize((size, size), Image.Resampling.LANCZOS)


def make_corpus(out: Path, *, quick: bool = False, size: int = 256) -> Path:
    """Write the default corpus under ``out`` and return its manifest path."""
    from detectors.copy.matcher import NewReference, ReferenceSet
    from detectors.testing import c2pa_fixtures, metadata_fixtures
    from detectors.testing.watermark_fixtures import natural_photos
    from detectors.watermark import BUILTIN_PAYLOADS, embed_payload

    for folder in ("negatives", "watermark", "metadata", "c2pa", "copy"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    photos = {name: square(rgb, size) for name, rgb in natural_photos()}
    references = [n for n in REFERENCES if n in photos]
    # The other view of a stereo pair is a near-duplicate of its reference, not a negative.
    near = {"motorcycle-right"} if "motorcycle-left" in references else set()
    negatives = [n for n in photos if n not in references and n not in near]
    if quick:
        references, negatives = references[:3], negatives[:6]
    items: list[Item] = []
    for name in negatives:
        path = f"negatives/{name}.png"
        (out / path).write_bytes(encode(photos[name]))
        items.append(Item(name, path))
    sdxl = next(p for p in BUILTIN_PAYLOADS if p.name == "sdxl")
    bits = f"{int(''.join(map(str, sdxl.bits)), 2):0{len(sdxl.bits) // 4}x}"
    for name in negatives[: 4 if quick else None]:
        marked = embed_payload(np.asarray(photos[name]), sdxl, "bgr")
        path = f"watermark/{name}.png"
        (out / path).write_bytes(encode(Image.fromarray(marked)))
        items.append(Item(f"wm-{name}", path, {"watermark": "sdxl"}, bits=bits))
    fixtures = metadata_fixtures.positive_fixtures()
    for name, data, label in fixtures[:4] if quick else fixtures:
        path = f"metadata/{name}.bin"
        (out / path).write_bytes(data)
        items.append(Item(f"md-{name}", path, {"metadata": label}))
    pki = c2pa_fixtures.default_pki()
    for i, name in enumerate(negatives[: 2 if quick else 6]):
        fmt = "PNG" if i % 2 == 0 else "JPEG"
        manifest = c2pa_fixtures.created_manifest(c2pa_fixtures.TRAINED, f"generated {name}")
        signed = c2pa_fixtures.sign(encode(photos[name], fmt), fmt, manifest, pki)
        path = f"c2pa/{name}.{fmt.lower()}"
        (out / path).write_bytes(signed)
        items.append(Item(f"c2pa-{name}", path, {"c2pa": "c2pa"}))
    bank = ReferenceSet()
    new = []
    for ref_id, name in enumerate(references, start=1):
        path = f"copy/{name}.png"
        (out / path).write_bytes(encode(photos[name]))
        new.append(NewReference(ref_id, photos[name], None, "eval"))
        items.append(Item(f"ref-{name}", path, {"copy": "copy"}, reference=ref_id))
    bank.add_many(new)
    bank.save(out / "copy-index")
    return save(out, items, {"copy": {"index_dir": "copy-index"}})
