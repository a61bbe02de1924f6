"""A diffusers or PEFT folder becomes one content-addressed model asset.

The asset is a *canonical safetensors blob* built from the folder, so it is hashed, stored
and judged exactly like a single safetensors file (no tar, whose bytes depend on mtimes and
ordering):

- every ``*.safetensors`` file (strictly parsed) and every PyTorch weight file (``*.bin``,
  ``*.pt``, ``*.pth``; ``weights_only`` loading) under the folder contributes its tensors,
  named ``<relative folder>/<tensor>`` (tensors at the top level keep their own names, so a
  PEFT adapter keeps ``base_model.model.…lora_A.weight``);
- every small JSON file (``adapter_config.json``, ``model_index.json``, ``config.json``) is
  recorded in ``__metadata__`` as ``file:<relative path>`` → its SHA-256;
- the blob is written canonically (:func:`safetensors_format.serialize`): sorted names,
  sorted compact header. Two copies of a folder give the same bytes and the same address.

Symbolic links are never followed; the walk is bounded in files and bytes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Final

from detectors.model import safetensors_format, torch_format
from detectors.model.load import check_finite
from detectors.model.tensors import ModelFormatError, Tensor

#: Files whose presence makes a folder one model asset.
MARKERS: Final = ("adapter_config.json", "model_index.json")
_TORCH_SUFFIXES: Final = (".bin", ".pt", ".pth")
MAX_FILES: Final = 1000
MAX_JSON_BYTES: Final = 1024 * 1024


def is_model_folder(path: Path) -> bool:
    """A PEFT adapter folder, a diffusers pipeline folder, or a transformers-style folder
    (``config.json`` beside a ``*.safetensors`` file)."""
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    if any(marker in names for marker in MARKERS):
        return True
    return "config.json" in names and any(n.endswith(".safetensors") for n in names)


def pack_folder(path: Path, max_bytes: int) -> bytes:
    """The canonical safetensors bytes of the model folder at ``path`` (see module doc)."""
    tensors: list[Tensor] = []
    metadata = {"provreg.folder": "1"}
    total = 0
    for file in _files(path):
        relative = file.relative_to(path).as_posix()
        size = file.stat().st_size
        total += size
        if total > max_bytes:
            raise ModelFormatError("too-large", f"folder holds more than {max_bytes} bytes")
        if file.suffix == ".json":
            if size <= MAX_JSON_BYTES:
                metadata[f"file:{relative}"] = hashlib.sha256(file.read_bytes()).hexdigest()
            continue
        data = file.read_bytes()
        try:
            if file.suffix == ".safetensors":
                found, _ = safetensors_format.parse(data)
            else:
                found = torch_format.parse(data)
        except ModelFormatError as exc:
            raise ModelFormatError(exc.reason, f"{relative}: {exc.detail}") from None
        parent = file.parent.relative_to(path).as_posix()
        prefix = "" if parent == "." else parent + "/"
        tensors.extend(Tensor(prefix + t.name, t.dtype, t.shape, t.raw) for t in found)
    if not tensors:
        raise ModelFormatError("corrupt", "the model folder holds no weight files")
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise ModelFormatError("corrupt", "two weight files in one folder name the same tensor")
    check_finite(tensors)
    return safetensors_format.serialize(tensors, metadata)


def _files(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            file = Path(folder) / name
            if file.is_symlink() or not file.is_file():
                continue
            if name.endswith((".safetensors", ".json", *_TORCH_SUFFIXES)):
                found.append(file)
                if len(found) > MAX_FILES:
                    raise ModelFormatError("corrupt", f"more than {MAX_FILES} model files")
    return found
