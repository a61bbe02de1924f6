"""Attribution errors (all :class:`registry.errors.ProvregError`: the CLI prints one line, exit 2).

Errors::

    AttributionError
    ├── GeneratorExistsError     the name is enrolled already (use --replace)
    ├── UnknownGeneratorError    no active enrolment has that name
    ├── EnrolmentRefusedError    the images cannot be enrolled (empty, too few, mixed sizes,
    │                            corrupt files: each named); nothing was stored
    └── GalleryError             a stored fingerprint is missing or does not hash as recorded
"""

from __future__ import annotations

from registry.errors import ProvregError


class AttributionError(ProvregError):
    """Base class of attribution errors."""


class GeneratorExistsError(AttributionError):
    """An active enrolment already has this name."""

    hint = "pass --replace to enrol a new version, or choose another name"


class UnknownGeneratorError(AttributionError):
    """No active enrolment has this name."""

    hint = "see `provreg generator list`"


class EnrolmentRefusedError(AttributionError):
    """The enrolment images were refused; nothing was stored."""

    hint = "fix or remove the files named and enrol again"


class GalleryError(AttributionError):
    """The enrolled fingerprints cannot be assembled."""

    hint = "re-enrol the generator named (provreg generator enroll NAME DIR --replace)"
