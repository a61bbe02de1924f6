"""Learned watermark decoders (RivaGAN, HiDDeN, StegaStamp, Stable Signature, vendors' own).

A learned decoder is a network that maps an image to one logit per message bit. Each is
described by a small manifest (:class:`DecoderManifest`) that travels with its weights, as
timm's pretrained configs do: file format (ONNX or TorchScript) and its pinned SHA-256, the
input size and how the image is fitted to it (centre crop or resize), channel order,
normalisation (``(pixel / 255 - mean) / std``), tensor layout, what the output is (logits
or probabilities), the decision threshold, message length and error-correcting code.

RivaGAN's decoder ships inside the ``invisible-watermark`` package
(``imwatermark/rivagan_decoder.onnx``); :func:`rivagan_manifest` pins it by the SHA-256 of
the shipped file. Its network is fully convolutional and averages over space, so it reads a
centre crop: every image is fitted to one size, and a whole batch goes through the network
in one forward pass (onnxruntime's CUDA provider or torch on CUDA when present, CPU
otherwise). Files are hashed before they are loaded: a wrong or corrupt file is a typed
error at load, never a silent mis-read.

ECC (:mod:`detectors.watermark.ecc`): ``"none"`` (the raw message bits are the payload), a
generic BCH code, or TrustMark's packet; payloads of such a decoder are its data bits.

TrustMark decoders (``architecture: "trustmark-Q"`` / B / C / P, format ``pytorch`` or
``safetensors``) are built from the ``trustmark`` package's own classes and loaded from the
pinned state dict (:mod:`detectors.watermark.trustmark_arch`); ONNX and TorchScript files
carry their own graph and take no ``architecture``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from detectors.watermark.ecc import Codec, parse_ecc
from detectors.watermark.files import DecoderFileError, check_sha256, verify_file

FORMATS = ("onnx", "torchscript", "pytorch", "safetensors")
FITS = ("center-crop", "resize", "resize-bilinear")
LAYOUTS = ("nchw", "nc1hw")
OUTPUTS = ("logits", "probabilities")
RIVAGAN = "rivaGan"
RIVAGAN_DECODER_SHA256 = "6b006690cf352fa50a91a0b6d6241dbcded0a9957969e2c0665cf9a7011b3880"
"""SHA-256 of ``imwatermark/rivagan_decoder.onnx`` as invisible-watermark 0.2.0 ships it."""
RIVAGAN_ENCODER_SHA256 = "66bc7814fadac7d686105c8ab26c6cf2cc8e40deb83e67bb6ef5b9de9b8ece0d"
"""SHA-256 of ``imwatermark/rivagan_encoder.onnx`` (used by tests and the benchmark)."""
_MANIFEST_KEYS = frozenset(
    {
        "name",
        "format",
        "sha256",
        "path",
        "bits",
        "input_size",
        "fit",
        "channel_order",
        "mean",
        "std",
        "layout",
        "output",
        "threshold",
        "ecc",
        "architecture",
    }
)


@dataclass(frozen=True)
class DecoderManifest:
    """How to load and feed one learned decoder."""

    name: str
    format: str
    sha256: str
    bits: int
    input_size: tuple[int, int]  # height, width
    fit: str = "center-crop"
    channel_order: str = "rgb"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    layout: str = "nchw"
    output: str = "logits"
    threshold: float = 0.0
    ecc: str | dict[str, Any] = "none"
    path: str | None = None
    architecture: str | None = None

    @property
    def codec(self) -> Codec | None:
        """The error-correcting code of the message bits (None for ``"none"``)."""
        return parse_ecc(self.ecc, self.bits, f"decoder {self.name!r}")

    @property
    def payload_bits(self) -> int | tuple[int, ...]:
        """Lengths a payload of this decoder may have: ``bits``, or the code's data bits."""
        codec = self.codec
        return self.bits if codec is None else codec.data_bits

    @classmethod
    def from_mapping(cls, entry: Mapping[str, Any]) -> DecoderManifest:
        """Validate a manifest given as a mapping (the ``decoders`` option, a JSON file)."""
        unknown = set(entry) - _MANIFEST_KEYS
        if unknown:
            raise DecoderFileError(f"decoder manifest: unknown key(s) {sorted(unknown)}")
        name = entry.get("name")
        if not isinstance(name, str) or not name or name != name.strip():
            raise DecoderFileError("decoder manifest: 'name' must be a non-empty string")
        where = f"decoder {name!r}"
        choices = {
            "format": FORMATS,
            "fit": FITS,
            "layout": LAYOUTS,
            "output": OUTPUTS,
            "channel_order": ("rgb", "bgr"),
        }
        for key, allowed in choices.items():
            if key in entry and entry[key] not in allowed:
                raise DecoderFileError(f"{where}: {key} {entry[key]!r} not in {allowed}")
        if "format" not in entry:
            raise DecoderFileError(f"{where}: 'format' is required ({FORMATS})")
        bits, size = entry.get("bits"), entry.get("input_size")
        if isinstance(bits, bool) or not isinstance(bits, int) or not 16 <= bits <= 1024:
            raise DecoderFileError(f"{where}: 'bits' must be an integer from 16 to 1024")
        if (
            not isinstance(size, list | tuple)
            or len(size) != 2
            or not all(isinstance(v, int) and 16 <= v <= 4096 for v in size)
        ):
            raise DecoderFileError(f"{where}: 'input_size' must be [height, width], 16..4096")
        path = entry.get("path")
        if path is not None and not isinstance(path, str):
            raise DecoderFileError(f"{where}: 'path' must be a string")
        architecture = entry.get("architecture")
        if entry["format"] in ("pytorch", "safetensors"):
            from detectors.watermark.trustmark_arch import variant_of

            variant_of(str(architecture))  # the only architectures a state dict loads into
        elif architecture is not None:
            raise DecoderFileError(f"{where}: an {entry['format']} file takes no 'architecture'")
        ecc = entry.get("ecc", "none")
        codec = parse_ecc(ecc, bits, where)
        return cls(
            name=name,
            format=str(entry["format"]),
            sha256=check_sha256(entry.get("sha256")),
            bits=bits,
            input_size=(int(size[0]), int(size[1])),
            fit=str(entry.get("fit", "center-crop")),
            channel_order=str(entry.get("channel_order", "rgb")),
            mean=_triple(entry.get("mean", (0.0, 0.0, 0.0)), where, "mean"),
            std=_triple(entry.get("std", (1.0, 1.0, 1.0)), where, "std", positive=True),
            layout=str(entry.get("layout", "nchw")),
            output=str(entry.get("output", "logits")),
            threshold=_number(entry.get("threshold", 0.0), where),
            ecc="none"
            if codec is None
            else dict(codec.spec)
            if codec.spec.get("type") == "bch"
            else str(ecc),
            path=path,
            architecture=None if architecture is None else str(architecture),
        )

    def as_json(self) -> dict[str, Any]:
        """Canonical description (what verdict identity hashes); no local path."""
        return {
            "name": self.name,
            "format": self.format,
            "sha256": self.sha256,
            "bits": self.bits,
            "input_size": list(self.input_size),
            "fit": self.fit,
            "channel_order": self.channel_order,
            "mean": list(self.mean),
            "std": list(self.std),
            "layout": self.layout,
            "output": self.output,
            "threshold": self.threshold,
            "ecc": self.ecc,
            **({"architecture": self.architecture} if self.architecture else {}),
        }


def rivagan_manifest() -> DecoderManifest:
    """The RivaGAN decoder shipped with invisible-watermark, pinned by its SHA-256.

    The library feeds the whole cv2 (BGR) frame scaled to -1..1 as a 1-frame video
    (``N x 3 x 1 x H x W``) and reads bit 1 iff the output exceeds 0.52.
    """
    import imwatermark

    return DecoderManifest(
        name=RIVAGAN,
        format="onnx",
        sha256=RIVAGAN_DECODER_SHA256,
        bits=32,
        input_size=(256, 256),
        fit="center-crop",
        channel_order="bgr",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        layout="nc1hw",
        output="logits",
        threshold=0.52,
        path=str(Path(imwatermark.__file__).parent / "rivagan_decoder.onnx"),
    )


def fit_image(image: Image.Image, manifest: DecoderManifest) -> np.ndarray | None:
    """The decoder's input tile as RGB uint8 (H x W x 3), or None if the image is too small."""
    height, width = manifest.input_size
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if manifest.fit in ("resize", "resize-bilinear"):
        resample = (
            Image.Resampling.BICUBIC if manifest.fit == "resize" else (Image.Resampling.BILINEAR)
        )
        return np.asarray(rgb.resize((width, height), resample), dtype=np.uint8)
    if rgb.height < height or rgb.width < width:
        return None
    top, left = (rgb.height - height) // 2, (rgb.width - width) // 2
    return np.asarray(rgb.crop((left, top, left + width, top + height)), dtype=np.uint8)


class LearnedDecoder:
    """One loaded decoder network: tiles in, per-bit scores (logit minus threshold) out."""

    def __init__(self, manifest: DecoderManifest) -> None:
        self.manifest = manifest
        if manifest.path is None:
            raise DecoderFileError(
                f"decoder {manifest.name!r}: no 'path' (the registry resolves it from the model "
                "store: provreg watermark add-decoder)"
            )
        path = verify_file(Path(manifest.path), manifest.sha256)
        self.device = "cpu"
        self.forward_passes = 0  # how many times the network ran (one per batch)
        try:
            if manifest.format == "onnx":
                self._run = self._load_onnx(path)
            elif manifest.format == "torchscript":
                self._run = self._load_torchscript(path)
            else:
                self._run = self._load_state_dict(path)
        except DecoderFileError:
            raise
        except Exception as exc:  # onnxruntime / torch raise their own types on bad files
            raise DecoderFileError(
                f"decoder {manifest.name!r}: {path} would not load as {manifest.format}: "
                f"{type(exc).__name__}: {str(exc)[:300]}"
            ) from exc

    def _load_onnx(self, path: Path) -> Any:
        import onnxruntime

        providers = ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        session = onnxruntime.InferenceSession(str(path), providers=providers)
        if session.get_providers()[0] == "CUDAExecutionProvider":
            self.device = "cuda"
        name = session.get_inputs()[0].name
        return lambda batch: np.asarray(session.run(None, {name: batch})[0])

    def _load_torchscript(self, path: Path) -> Any:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        module = torch.jit.load(str(path), map_location=device).eval()  # type: ignore[no-untyped-call]
        self.device = device

        def run(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out = module(torch.from_numpy(batch).to(device))
            return np.asarray(out.detach().float().cpu().numpy())

        return run

    def _load_state_dict(self, path: Path) -> Any:
        import torch

        from detectors.watermark.trustmark_arch import load_decoder, variant_of

        device = "cuda" if torch.cuda.is_available() else "cpu"
        variant = variant_of(str(self.manifest.architecture))
        module = load_decoder(variant, path, self.manifest.format).to(device)
        self.device = device

        def run(batch: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                out = module(torch.from_numpy(batch).to(device))
            return np.asarray(out.detach().float().cpu().numpy())

        return run

    def scores(self, tiles: np.ndarray) -> np.ndarray:
        """``N x bits`` scores for ``N x H x W x 3`` RGB uint8 tiles, in one forward pass."""
        m = self.manifest
        array = tiles[..., ::-1] if m.channel_order == "bgr" else tiles
        batch = (array.astype(np.float32) / 255.0 - np.asarray(m.mean, np.float32)) / (
            np.asarray(m.std, np.float32)
        )
        batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        if m.layout == "nc1hw":
            batch = batch[:, :, None]
        self.forward_passes += 1
        out = self._run(batch).reshape(tiles.shape[0], -1).astype(np.float64)
        if out.shape[1] != m.bits:
            raise DecoderFileError(
                f"decoder {m.name!r} returned {out.shape[1]} values per image, manifest says "
                f"{m.bits} bits"
            )
        if m.output == "probabilities":
            clipped = np.clip(out, 1e-7, 1 - 1e-7)
            out = np.log(clipped / (1 - clipped))
        return np.asarray(out - m.threshold, dtype=np.float64)


def _triple(
    value: object, where: str, key: str, positive: bool = False
) -> tuple[float, float, float]:
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise DecoderFileError(f"{where}: '{key}' must be three numbers")
    numbers = tuple(_number(v, where) for v in value)
    if positive and min(numbers) <= 0:
        raise DecoderFileError(f"{where}: '{key}' must be positive")
    return numbers[0], numbers[1], numbers[2]


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DecoderFileError(f"{where}: expected a finite number, got {value!r}")
    return float(value)
