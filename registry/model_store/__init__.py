"""The weight store for learned detectors (``$PROVREG_HOME/models``); see :mod:`.store`."""

from registry.model_store.errors import (
    DuplicateModelError,
    ModelFileError,
    ModelStoreError,
    UnknownModelError,
)
from registry.model_store.store import ModelEntry, ModelStore

__all__ = ["DuplicateModelError", "ModelEntry", "ModelFileError", "ModelStore",
           "ModelStoreError", "UnknownModelError"]
