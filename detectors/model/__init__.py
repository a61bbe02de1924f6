"""Model files as assets: safe parsing (safetensors, PyTorch ``weights_only``, ONNX, model
folders), per-tensor manifests, lineage against registered models, and weight watermarks.

Pure: bytes and paths in, tensors and verdicts out; nothing here imports ``registry`` or
``ray``. See docs/detectors/model.md.
"""

from detectors.model.folder import is_model_folder, pack_folder
from detectors.model.load import load_tensors
from detectors.model.tensors import MODEL_TYPES, ModelFormatError, Tensor, sniff_model

__all__ = [
    "MODEL_TYPES",
    "ModelFormatError",
    "Tensor",
    "is_model_folder",
    "load_tensors",
    "pack_folder",
    "sniff_model",
]
