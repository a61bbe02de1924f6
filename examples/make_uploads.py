"""Regenerate examples/uploads/: a small folder that exercises every training-free detector.

    python examples/make_uploads.py

Writes a plain photo-like image, an AUTOMATIC1111-style PNG, a JPEG whose XMP says
trainedAlgorithmicMedia (IPTC), a PNG carrying the public SDXL invisible watermark, and
three files that cannot be judged (truncated JPEG, text named .png, empty file).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

OUT = Path(__file__).resolve().parent / "uploads"

A1111 = (
    "a lighthouse on a cliff at dusk, oil painting\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234567890, Size: 512x512, "
    "Model hash: 31e35c80fc, Model: sd_xl_base_1.0"
)

XMP = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="" '
    'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    "Iptc4xmpExt:DigitalSourceType="
    '"http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
    '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


def scene(seed: int, size: int = 512) -> Image.Image:
    """A smooth, photo-like synthetic scene (gradients and soft shapes, not noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    channels = []
    for _ in range(3):
        a, b, c = rng.uniform(0.5, 3.0, 3)
        channels.append(0.5 + 0.25 * np.sin(a * 6 * x + b) * np.cos(c * 5 * y))
    img = np.stack(channels, axis=-1)
    for _ in range(6):
        cx, cy, r = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.05, 0.2)
        mask = ((x - cx) ** 2 + (y - cy) ** 2) < r**2
        img[mask] = img[mask] * 0.5 + rng.uniform(0, 1, 3) * 0.5
    img = img * 0.8 + 0.1 + rng.normal(0, 0.03, img.shape)  # headroom and sensor-like grain
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8), "RGB")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    scene(1).save(OUT / "holiday-photo.jpg", quality=90)

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    scene(2).save(OUT / "a1111-render.png", pnginfo=info)

    scene(3).save(OUT / "iptc-generated.jpg", quality=90, xmp=XMP.encode("utf-8"))

    from detectors.watermark import BUILTIN_PAYLOADS, embed_payload

    sdxl = next(payload for payload in BUILTIN_PAYLOADS if payload.name == "sdxl")
    marked = embed_payload(np.asarray(scene(4)), sdxl, "bgr", "uint8")  # as Stability's scripts
    Image.fromarray(marked).save(OUT / "sdxl-watermarked.png")

    buffer = io.BytesIO()
    scene(5).save(buffer, format="JPEG", quality=85)
    (OUT / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    (OUT / "notes.png").write_text("this is not an image\n")
    (OUT / "empty.jpg").write_bytes(b"")


if __name__ == "__main__":
    main()
