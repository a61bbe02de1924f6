"""Intake of model files and model folders (the hook :mod:`registry.intake.pipeline` calls).

A model file is checked by parsing it (``detectors.model.load_tensors``: strict safetensors,
``weights_only`` PyTorch, ONNX without external data) before it is accepted, so a hostile
file is an intake error with a clear reason and never reaches a detector. A model folder
(PEFT adapter, diffusers pipeline) becomes one asset: its canonical safetensors blob
(:func:`detectors.model.pack_folder`), addressed by that blob's SHA-256.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from detectors.base import Sample
from detectors.model import ModelFormatError, load_tensors, pack_folder
from detectors.model.tensors import SAFETENSORS
from registry.intake.pipeline import IntakeLimits, IntakeResult


def model_result(
    data: bytes, media_type: str, *, sha256: str, path: str | None, source: str | None
) -> IntakeResult:
    """An ok result carrying a :class:`Sample` (no image), or the file's format error."""
    try:
        load_tensors(data, media_type)
    except ModelFormatError as exc:
        return IntakeResult(
            path=path,
            sha256=sha256,
            size_bytes=len(data),
            media_type=media_type,
            error=exc.reason,
            error_detail=exc.detail,
        )
    sample = Sample(sha256=sha256, data=data, media_type=media_type, source=source)
    return IntakeResult(
        path=path, sha256=sha256, size_bytes=len(data), media_type=media_type, sample=sample
    )


def folder_result(folder: Path, limits: IntakeLimits, source: str | None) -> IntakeResult:
    """The model folder at ``folder`` as one asset (its canonical blob), or an error."""
    try:
        data = pack_folder(folder, limits.max_bytes)
    except ModelFormatError as exc:
        return IntakeResult(
            path=str(folder),
            sha256="",
            size_bytes=0,
            media_type=SAFETENSORS,
            error=exc.reason,
            error_detail=exc.detail,
        )
    except OSError as exc:
        return IntakeResult(
            path=str(folder),
            sha256="",
            size_bytes=0,
            media_type=SAFETENSORS,
            error="unreadable",
            error_detail=exc.strerror or type(exc).__name__,
        )
    return model_result(
        data, SAFETENSORS, sha256=hashlib.sha256(data).hexdigest(), path=str(folder), source=source
    )
