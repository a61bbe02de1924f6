"""The weight store for learned detectors (``$PROVREG_HOME/models``); see :mod:`.store`."""

from registry.models.errors import (
    DuplicateModelError,
    ModelFileError,
    ModelStoreError,
    UnknownModelError,
)
from registry.models.store import ModelEntry, ModelStore

__all__ = [
    "DuplicateModelError",
    "ModelEntry",
    "ModelFileError",
    "ModelStore",
    "ModelStoreError",
    "UnknownModelError",
]
