"""Meta-test: every registered detector has conformance tests and a docs page."""

from __future__ import annotations

import importlib
from pathlib import Path

from detectors.plugins import registered_entry_points
from detectors.testing.conformance import DetectorConformance

REPO = Path(__file__).resolve().parents[2]


def _conformance_classes() -> list[type[DetectorConformance]]:
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        importlib.import_module(".".join(path.relative_to(REPO).with_suffix("").parts))
    found: list[type[DetectorConformance]] = []
    pending = list(DetectorConformance.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_registered_detector_has_conformance_tests() -> None:
    tested = {
        cls.detector_class.name
        for cls in _conformance_classes()
        if cls.__name__.startswith("Test") and hasattr(cls, "detector_class")
    }
    missing = sorted(set(registered_entry_points()) - tested)
    assert not missing, f"registered detectors without a DetectorConformance test class: {missing}"


def test_every_registered_detector_has_a_docs_page() -> None:
    missing = [
        name
        for name in registered_entry_points()
        if not (REPO / "docs" / "detectors" / f"{name}.md").is_file()
    ]
    assert not missing, f"registered detectors without docs/detectors/<name>.md: {missing}"
