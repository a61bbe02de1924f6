"""Global image descriptors for copy detection: a pluggable embedder interface.

An :class:`Embedder` turns images into L2-normalised ``float32`` vectors of a fixed
dimension; nearest neighbours by inner product are candidate copies that geometric
verification (:mod:`detectors.copy.verification`) then confirms or rejects.

Implementations:

:class:`TorchScriptEmbedder` / :class:`OnnxEmbedder`
    Load a local model file (never downloaded) whose SHA-256 must equal the pinned value,
    else :class:`ModelChecksumError`. Preprocessing follows SSCD (Pizzi et al., 2022): RGB,
    resize to ``size x size`` (default 288) bilinear, scale to [0, 1], normalise with the
    ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), NCHW ``float32``.
    The model's output (SSCD: 512-d) is L2-normalised here whatever it already was.
:class:`HandcraftedEmbedder` (the default; needs no file)
    Training-free: a sqrt-normalised HSV colour histogram (8x4x4 bins, invariant to flips,
    rotations and mostly to crops and overlays) concatenated with the magnitudes of the
    low-frequency 2-D DCT of a 64x64 grayscale thumbnail (12x12 block without DC; taking
    magnitudes makes it invariant to horizontal and vertical flips). Each half is
    L2-normalised, then the whole. It is weak on its own and is used only to pick
    candidates for verification; its measured recall is in docs/detectors/copy.md.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Final

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

Vectors = npt.NDArray[np.float32]

IMAGENET_MEAN: Final = (0.485, 0.456, 0.406)
IMAGENET_STD: Final = (0.229, 0.224, 0.225)


class EmbeddingError(Exception):
    """Base class for embedder errors."""


class ModelChecksumError(EmbeddingError):
    """A model file's SHA-256 differs from the pinned value; it is refused."""


class ModelLoadError(EmbeddingError):
    """A model file is missing or could not be loaded by its runtime."""


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def l2_normalise(vectors: npt.ArrayLike) -> Vectors:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    arr = np.asarray(vectors, dtype=np.float32)
    arr = arr.reshape(len(arr), -1)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return np.ascontiguousarray(arr / np.maximum(norms, 1e-12), dtype=np.float32)


class Embedder(ABC):
    """Images in, L2-normalised ``float32`` vectors of :attr:`dim` out."""

    name: ClassVar[str]

    @property
    @abstractmethod
    def dim(self) -> int:
        """Vector dimension."""

    @property
    @abstractmethod
    def checksum(self) -> str | None:
        """SHA-256 of the weights the vectors depend on (``None`` for training-free ones)."""

    @abstractmethod
    def embed(self, images: Sequence[Image.Image]) -> Vectors:
        """One unit-norm row per image, shape ``(len(images), dim)``."""


class HandcraftedEmbedder(Embedder):
    """Training-free colour-histogram + flip-invariant DCT descriptor (see module doc)."""

    name: ClassVar[str] = "handcrafted-v1"
    _BINS: ClassVar[tuple[int, int, int]] = (8, 4, 4)
    _DCT: ClassVar[int] = 12

    @property
    def dim(self) -> int:
        return int(np.prod(self._BINS)) + self._DCT * self._DCT - 1

    @property
    def checksum(self) -> str | None:
        return None

    def embed(self, images: Sequence[Image.Image]) -> Vectors:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._one(image) for image in images])

    def _one(self, image: Image.Image) -> Vectors:
        rgb = image.convert("RGB")
        rgb.thumbnail((256, 256), Image.Resampling.BILINEAR)
        hsv = np.asarray(rgb.convert("HSV"), dtype=np.uint8).reshape(-1, 3)
        hist, _ = np.histogramdd(hsv, bins=self._BINS, range=((0, 256),) * 3)
        colour = np.sqrt(hist.reshape(-1) / max(1, len(hsv)))
        gray = np.asarray(
            rgb.convert("L").resize((64, 64), Image.Resampling.BILINEAR), dtype=np.float32
        )
        dct = np.abs(cv2.dct(gray - gray.mean()))[: self._DCT, : self._DCT].reshape(-1)[1:]
        parts = [
            colour / max(np.linalg.norm(colour), 1e-12),
            dct / max(float(np.linalg.norm(dct)), 1e-12),
        ]
        out: Vectors = l2_normalise(np.concatenate(parts)[None])[0]
        return out


def preprocess(images: Sequence[Image.Image], size: int) -> npt.NDArray[np.float32]:
    """SSCD-style batch: RGB, ``size x size`` bilinear, ImageNet-normalised, NCHW float32."""
    mean = np.array(IMAGENET_MEAN, dtype=np.float32)
    std = np.array(IMAGENET_STD, dtype=np.float32)
    batch = [
        (
            np.asarray(
                im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32
            )
            / 255.0
            - mean
        )
        / std
        for im in images
    ]
    return np.ascontiguousarray(np.stack(batch).transpose(0, 3, 1, 2), dtype=np.float32)


class _PinnedModel(Embedder):
    """Shared checksum pinning and output handling for model-file embedders."""

    def __init__(self, path: str | Path, sha256: str, *, dim: int = 512, size: int = 288) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelLoadError(f"model file not found: {self.path}")
        actual = sha256_file(self.path)
        if actual != sha256.lower():
            raise ModelChecksumError(
                f"{self.path.name}: sha256 {actual} does not match pinned {sha256.lower()}"
            )
        self._checksum = actual
        self._dim = dim
        self.size = size

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def checksum(self) -> str | None:
        return self._checksum

    def embed(self, images: Sequence[Image.Image]) -> Vectors:
        if not images:
            return np.zeros((0, self._dim), dtype=np.float32)
        out = l2_normalise(self._run(preprocess(images, self.size)))
        if out.shape[1] != self._dim:
            raise EmbeddingError(f"model returned {out.shape[1]}-d vectors, expected {self._dim}")
        return out

    @abstractmethod
    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
        """Run the model on a preprocessed NCHW batch."""


class TorchScriptEmbedder(_PinnedModel):
    """A TorchScript model (``torch.jit.load``) pinned by SHA-256, run on CPU."""

    name: ClassVar[str] = "torchscript"

    def __init__(self, path: str | Path, sha256: str, *, dim: int = 512, size: int = 288) -> None:
        super().__init__(path, sha256, dim=dim, size=size)
        import torch

        try:
            self._model = torch.jit.load(  # type: ignore[no-untyped-call]
                str(self.path), map_location="cpu"
            ).eval()
        except Exception as exc:
            raise ModelLoadError(f"torch.jit.load failed for {self.path}: {exc}") from exc

    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
        import torch

        with torch.inference_mode():
            return self._model(torch.from_numpy(batch)).float().numpy()  # type: ignore[no-any-return]


class OnnxEmbedder(_PinnedModel):
    """An ONNX model run with onnxruntime's CPU provider, pinned by SHA-256."""

    name: ClassVar[str] = "onnx"

    def __init__(self, path: str | Path, sha256: str, *, dim: int = 512, size: int = 288) -> None:
        super().__init__(path, sha256, dim=dim, size=size)
        import onnxruntime

        try:
            self._session = onnxruntime.InferenceSession(
                str(self.path), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelLoadError(f"onnxruntime failed for {self.path}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name

    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[Any]:
        return np.asarray(self._session.run(None, {self._input: batch})[0])
