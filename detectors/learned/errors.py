"""Typed errors for loading and running learned models.

Errors::

    LearnedModelError
    ├── ModelUnavailableError    no weights are configured (the detector says so; never "not found")
    ├── ModelChecksumError       the file's SHA-256 differs from the pinned one; it is refused
    ├── ModelFormatError         the file is truncated, not the declared format, or not a state dict
    ├── StateDictMismatchError   missing or unexpected keys, or shapes that differ (named)
    ├── ModelInputError          the graph's input does not take what the architecture feeds it
    └── UnknownArchitectureError an architecture name no registered builder provides
"""

from __future__ import annotations


class LearnedModelError(Exception):
    """Base class for learned-model errors."""


class ModelUnavailableError(LearnedModelError):
    """No weights are configured for a learned detector."""


class ModelChecksumError(LearnedModelError):
    """A weight file's SHA-256 differs from the pinned value."""


class ModelFormatError(LearnedModelError):
    """A weight file cannot be read as its declared format."""


class StateDictMismatchError(LearnedModelError):
    """A state dict does not fit the architecture: the message names the keys."""

    def __init__(
        self, missing: list[str], unexpected: list[str], shapes: list[str], architecture: str
    ) -> None:
        self.missing = missing
        self.unexpected = unexpected
        self.shapes = shapes
        parts = []
        if missing:
            parts.append(f"missing keys {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_few(unexpected)}")
        if shapes:
            parts.append(f"shape mismatches {_few(shapes)}")
        super().__init__(f"state dict does not fit {architecture}: " + "; ".join(parts))


class ModelInputError(LearnedModelError):
    """A model graph's input shape or type does not match its preprocessing config."""


class UnknownArchitectureError(LearnedModelError):
    """No architecture is registered under the requested name."""


def _few(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{', …' if len(keys) > limit else ''}] ({len(keys)})"
