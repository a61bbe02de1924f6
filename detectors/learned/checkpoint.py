"""Read weight files into architectures: formats, key cleaning, key and shape checks.

Pickle is never trusted: PyTorch files load with ``torch.load(weights_only=True)``, which
refuses any object that is not tensors and plain containers (a ``__reduce__`` payload never
runs). What comes out must be a mapping of names to tensors, possibly wrapped the way training
scripts save it (``{"model": ...}``, ``{"state_dict": ...}``); keys lose the prefixes that
``DataParallel`` (``module.``) and ``torch.compile`` (``_orig_mod.``) add, then must match the
architecture exactly: every missing, unexpected or differently shaped key is named.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from detectors.learned.errors import ModelFormatError, StateDictMismatchError
from detectors.learned.files import FORMATS, guess_format, sha256_file, verify_checksum

__all__ = [
    "FORMATS",
    "clean_state_dict",
    "guess_format",
    "load_into",
    "read_state_dict",
    "select_prefix",
    "sha256_file",
    "unwrap",
    "verify_checksum",
]

#: Wrapper keys training scripts put around a state dict.
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net")
#: Prefixes added by DataParallel / DistributedDataParallel and torch.compile.
NOISE_PREFIXES = ("module.", "_orig_mod.")
#: Buffers older checkpoints may lack without changing the network's output.
OPTIONAL_SUFFIXES = ("num_batches_tracked",)

StateDict = dict[str, torch.Tensor]


def read_state_dict(path: str | Path, fmt: str) -> StateDict:
    """The tensors stored in ``path`` (any format but ONNX), unwrapped and cleaned."""
    try:
        if fmt == "safetensors":
            from safetensors.torch import load_file

            raw: Any = load_file(str(path), device="cpu")
        elif fmt == "pytorch":
            raw = torch.load(str(path), map_location="cpu", weights_only=True)
        elif fmt == "torchscript":
            raw = torch.jit.load(str(path), map_location="cpu").state_dict()  # type: ignore[no-untyped-call]
        else:
            raise ModelFormatError(f"format {fmt!r} holds no state dict")
    except ModelFormatError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        RuntimeError,
        OSError,
        ValueError,
        zipfile.BadZipFile,
        KeyError,
        AttributeError,
        TypeError,
    ) as exc:
        raise ModelFormatError(
            f"cannot read {path} as {fmt} weights ({type(exc).__name__}: {str(exc)[:300]})"
        ) from exc
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise ModelFormatError(
            f"cannot read {path} as {fmt} weights ({type(exc).__name__}: {str(exc)[:300]})"
        ) from exc
    return clean_state_dict(unwrap(raw, path))


def unwrap(raw: Any, path: str | Path = "<memory>") -> StateDict:
    """The state dict inside ``raw`` (plain, or under a wrapper key), else ModelFormatError."""
    if isinstance(raw, Mapping):
        for key in WRAPPER_KEYS:
            inner = raw.get(key)
            if isinstance(inner, Mapping) and inner and _all_tensors(inner):
                raw = inner
                break
    if not isinstance(raw, Mapping) or not raw:
        raise ModelFormatError(f"{path} holds a {type(raw).__name__}, not a state dict")
    if not _all_tensors(raw):
        bad = [str(k) for k, v in raw.items() if not isinstance(v, torch.Tensor)][:5]
        raise ModelFormatError(f"{path} is not a state dict: non-tensor entries {bad}")
    return {str(k): v for k, v in raw.items()}


def _all_tensors(mapping: Mapping[Any, Any]) -> bool:
    return all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in mapping.items())


def clean_state_dict(state: Mapping[str, torch.Tensor]) -> StateDict:
    """Keys without the ``module.`` / ``_orig_mod.`` prefixes training wrappers add."""
    cleaned: StateDict = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in NOISE_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix) :], True
        cleaned[key] = value
    return cleaned


def select_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> StateDict:
    """Keys under ``prefix`` with it stripped (a CLIP file holds text keys too); the state
    unchanged when no key carries the prefix (a file saved from the tower alone)."""
    if not prefix or not any(key.startswith(prefix) for key in state):
        return dict(state)
    return {key[len(prefix) :]: value for key, value in state.items() if key.startswith(prefix)}


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor], architecture: str) -> None:
    """Copy ``state`` into ``module``; :class:`StateDictMismatchError` names every misfit."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith(OPTIONAL_SUFFIXES)]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        raise StateDictMismatchError(missing, unexpected, shapes, architecture)
    module.load_state_dict(dict(state), strict=False)
