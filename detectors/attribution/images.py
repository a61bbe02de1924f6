"""Reading an enrolment folder: every file decoded or named with its reason, sizes checked.

Files are hostile: Pillow decodes each fully (``load()``), with its decompression-bomb guard
turned into an error, and anything that fails is collected; one bad file refuses the whole
enrolment (a fingerprint from a silently smaller set would misstate its image count).
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from detectors.attribution.errors import (
    CorruptImagesError,
    MixedSizesError,
    NoImagesError,
    TooFewImagesError,
)

Pixels = npt.NDArray[np.uint8]
#: File name endings read as images.
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: Fewest images a fingerprint is built from (the residual mean needs enough to average out
#: scene content; below ~16 the open-space null has too few points for a 5% threshold).
MIN_IMAGES = 16
#: Largest side accepted for enrolment images.
MAX_SIDE = 4096


def image_files(folder: str | Path) -> list[Path]:
    """Files in ``folder`` whose names end like images (sorted; not recursive)."""
    root = Path(folder)
    if not root.is_dir():
        raise NoImagesError(f"{root} is not a folder")
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


def decode(path: Path) -> Pixels:
    """RGB uint8 pixels of one file (raises ValueError with the reason)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if max(image.size) > MAX_SIDE:
                    raise ValueError(f"too-large: {image.size[0]}x{image.size[1]}")
                image.load()
                return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (
        OSError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise ValueError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc


def read_folder(folder: str | Path, minimum: int = MIN_IMAGES) -> list[Pixels]:
    """Every image of ``folder``, all of one size; an :class:`EnrolmentError` otherwise."""
    files = image_files(folder)
    if not files:
        raise NoImagesError(f"{folder} holds no image files ({', '.join(SUFFIXES)})")
    images: list[Pixels] = []
    failures: dict[str, str] = {}
    for path in files:
        try:
            images.append(decode(path))
        except ValueError as exc:
            failures[path.name] = str(exc)
    if failures:
        raise CorruptImagesError(failures)
    check_images(images, minimum, str(folder))
    return images


def check_images(images: list[Pixels], minimum: int, where: str = "the images") -> None:
    """Refuse too few images or images of more than one size."""
    if len(images) < minimum:
        raise TooFewImagesError(
            f"{where} has {len(images)} image(s); a fingerprint needs at least {minimum}"
        )
    sizes = Counter(f"{img.shape[1]}x{img.shape[0]}" for img in images)
    if len(sizes) > 1:
        shown = ", ".join(f"{s} ({n})" for s, n in sizes.most_common(5))
        raise MixedSizesError(
            f"{where} mixes image sizes ({shown}); enrol one generator output size at a time"
        )
