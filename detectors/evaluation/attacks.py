"""Attacks: seeded, deterministic transforms of a file's bytes, with their parameters recorded.

An :class:`Attack` has a family (``jpeg-444``, ``crop`` ...), a strength in ``[0, 1]`` (0 is
the untouched original, 1 the harshest setting of its family, so families plot on one axis),
its parameters (written into every report) and a function ``(bytes, AttackContext) -> bytes``.
``kind`` says what it is for:

- ``removal`` attacks (every standard transform, averaging, regeneration) are applied to the
  positives *and* the negatives of a detector: TPR and FPR are both measured under the attack;
- ``forgery`` attacks (metadata forge, C2PA transplant, watermark spoof) are applied to the
  negatives only: they try to make a detector fire on content that was never generated, and
  the report lists what fired under "Findings".

Randomness comes only from :meth:`AttackContext.rng`, seeded from the run seed, the attack
and the item, so a report is reproducible item by item. Suites (``SUITES``) are built in
:mod:`detectors.evaluation.suites`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from detectors.evaluation.imaging import decode_rgb

AttackFn = Callable[[bytes, "AttackContext"], bytes]
Kind = Literal["removal", "forgery"]


@dataclass(frozen=True)
class AttackContext:
    """What an attack may use besides the file: the seed, a donor image and shared state.

    ``donor`` is another corpus image (collage, transplant targets ...); ``shared`` holds
    objects built once per run (the averaging estimate, the trained autoencoder, forged
    chunks), keyed by the attack family that needs them.
    """

    seed: int
    item: str
    donor: bytes | None = None
    shared: Mapping[str, Any] = field(default_factory=dict)

    def rng(self, attack: str) -> np.random.Generator:
        """A generator seeded by (run seed, attack id, item id) only."""
        digest = hashlib.sha256(f"{self.seed}|{attack}|{self.item}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Attack:
    """One attack at one strength."""

    family: str
    strength: float
    params: Mapping[str, Any]
    fn: AttackFn
    kind: Kind = "removal"

    @property
    def id(self) -> str:
        """Stable identifier: family and parameters, e.g. ``jpeg-444[quality=50]``."""
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.family}[{inner}]" if inner else self.family

    def apply(self, data: bytes, context: AttackContext) -> bytes:
        """The attacked file's bytes (raises when the input cannot be decoded)."""
        return self.fn(data, context)

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for reports."""
        return {
            "id": self.id,
            "family": self.family,
            "strength": self.strength,
            "kind": self.kind,
            "params": dict(self.params),
        }


def identity(data: bytes, context: AttackContext) -> bytes:
    """The original file, untouched (strength 0 of every family)."""
    decode_rgb(data)  # an unreadable file fails here like under every other attack
    return data


ORIGINAL = Attack("original", 0.0, {}, identity)
