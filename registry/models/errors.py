"""Model store errors (all are :class:`registry.errors.ProvregError`, so the CLI exits 2).

Errors::

    ModelStoreError
    ├── UnknownModelError      no entry has that name
    ├── DuplicateModelError    an entry of that name exists (remove it first)
    └── ModelFileError         the file to add is missing, or its SHA-256 is not the one given
"""

from __future__ import annotations

from registry.errors import ProvregError


class ModelStoreError(ProvregError):
    """Base class for model store errors."""


class UnknownModelError(ModelStoreError):
    """No model of that name is in the store."""


class DuplicateModelError(ModelStoreError):
    """A model of that name is already in the store."""


class ModelFileError(ModelStoreError):
    """The file offered to the store is unreadable or does not hash to the given SHA-256."""
