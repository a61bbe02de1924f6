"""Every attack of `provreg eval` is deterministic under its seed and changes the image."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from detectors.evaluation import suites
from detectors.evaluation.attacks import Attack, AttackContext
from detectors.evaluation.imaging import UnreadableImage, decode_rgb, encode, to_array
from detectors.testing.watermark_fixtures import photo

ATTACKS = {a.id: a for a in suites.build("default", quick=False)}


@pytest.fixture(scope="module")
def shared() -> dict[str, object]:
    clean = [photo(name, (96, 96)) for name in ("astronaut", "coffee", "chelsea")]
    return suites.shared_state(
        list(ATTACKS.values()), marked=clean, clean=clean, seed=1, quick=True
    )


def _file() -> bytes:
    """A photo as PNG carrying a text chunk (so metadata-strip has something to remove)."""
    info = PngInfo()
    info.add_text("Comment", "from the camera")
    buffer = io.BytesIO()
    Image.fromarray(photo("rocket", (256, 256))).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def _pixels(data: bytes) -> np.ndarray:
    return to_array(decode_rgb(data))


@pytest.mark.parametrize("attack_id", sorted(ATTACKS))
def test_attack_is_deterministic_and_changes_the_file(
    attack_id: str, shared: dict[str, object]
) -> None:
    attack: Attack = ATTACKS[attack_id]
    data = _file()
    donor = encode(Image.fromarray(photo("coins", (96, 96))))
    context = AttackContext(seed=7, item="rocket", donor=donor, shared=shared)
    first = attack.apply(data, context)
    again = attack.apply(data, AttackContext(seed=7, item="rocket", donor=donor, shared=shared))
    assert first == again
    assert first != data
    if attack.family != "metadata-strip" and attack.kind == "removal":
        before, after = _pixels(data), _pixels(first)
        assert before.shape != after.shape or not np.array_equal(before, after)
    assert attack.describe()["params"] == dict(attack.params)


@pytest.mark.parametrize("family", ["crop", "noise", "colour-jitter", "text-overlay"])
def test_random_attacks_depend_on_the_seed(family: str, shared: dict[str, object]) -> None:
    attack = next(a for a in ATTACKS.values() if a.family == family)
    data = _file()
    outputs = {
        attack.apply(data, AttackContext(seed=s, item="rocket", shared=shared)) for s in range(4)
    }
    assert len(outputs) > 1


def test_metadata_strip_keeps_the_pixels() -> None:
    attack = next(a for a in ATTACKS.values() if a.family == "metadata-strip")
    data = _file()
    out = attack.apply(data, AttackContext(seed=0, item="x"))
    assert np.array_equal(_pixels(data), _pixels(out))
    assert b"from the camera" in data and b"from the camera" not in out


def test_attacks_raise_on_unreadable_input() -> None:
    with pytest.raises(UnreadableImage):
        ATTACKS["jpeg-420[quality=50]"].apply(b"\x89PNG\r\n\x1a\nbroken", AttackContext(0, "x"))


def test_quick_suite_is_a_subset_and_names_are_unique() -> None:
    quick = suites.build("default", quick=True)
    assert len({a.id for a in quick}) == len(quick)
    assert {a.id for a in quick} <= set(ATTACKS) | {a.id for a in quick}
    assert [a.family for a in suites.build("crop,flip", quick=True)] == ["crop", "crop", "flip"]
    with pytest.raises(KeyError):
        suites.build("no-such-family", quick=True)


def test_evaluation_package_imports_neither_registry_nor_ray() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import detectors.evaluation.adversarial, detectors.evaluation.corpus\n"
        "import detectors.evaluation.make_corpus, detectors.evaluation.metrics\n"
        "import detectors.evaluation.outcomes, detectors.evaluation.regenerate\n"
        "import detectors.evaluation.report, detectors.evaluation.suites\n"
        "import detectors.evaluation.summary, detectors.evaluation.transforms\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'registry', 'ray'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
