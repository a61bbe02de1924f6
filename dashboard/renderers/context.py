"""What a renderer may need besides the evidence: the verdict's numbers and image access."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image


def _no_image(_sha256: str) -> Image.Image | None:
    return None


@dataclass(frozen=True)
class EvidenceContext:
    """One verdict as the renderer sees it.

    ``load_image`` returns a decoded image for a sha256 (the asset itself or a bank
    reference) or None when the registry holds no readable copy; renderers never read files
    themselves.
    """

    asset_sha256: str
    score: float | None = None
    p_value: float | None = None
    load_image: Callable[[str], Image.Image | None] = field(default=_no_image)
