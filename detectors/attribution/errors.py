"""Typed errors of attribution enrolment.

Errors::

    EnrolmentError           base; the message says what is wrong and what to do
    ├── NoImagesError        the folder holds no image files
    ├── TooFewImagesError    fewer readable images than the stated minimum
    ├── MixedSizesError      enrolment images differ in size (the native grid must be one)
    └── CorruptImagesError   some files could not be decoded (each named with its reason)
"""

from __future__ import annotations


class EnrolmentError(ValueError):
    """An enrolment was refused; nothing was stored."""


class NoImagesError(EnrolmentError):
    """No image files to enrol from."""


class TooFewImagesError(EnrolmentError):
    """Fewer images than the minimum a fingerprint needs."""


class MixedSizesError(EnrolmentError):
    """Images of more than one size."""


class CorruptImagesError(EnrolmentError):
    """Files that could not be decoded; ``failures`` maps each path to its reason."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = failures
        shown = "; ".join(f"{p}: {r}" for p, r in list(failures.items())[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} file(s) could not be read: {shown}{more}")
