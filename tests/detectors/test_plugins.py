"""Detector discovery through entry points, as third-party plugins would register."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from detectors.file_facts import FileFactsDetector
from detectors.plugins import (
    DetectorLoadError,
    DuplicateDetectorError,
    UnknownDetectorError,
    available_detectors,
    create_detectors,
)

GROUP = "provreg.detectors"


def test_builtins_come_through_the_entry_point_group() -> None:
    assert available_detectors()["file-facts"] is FileFactsDetector


def test_a_plugin_registers_like_a_builtin() -> None:
    plugin = EntryPoint("facts-again", "tests.detectors.plugin_fixture:RenamedFacts", GROUP)
    found = available_detectors(extra=[plugin])
    assert found["facts-again"].__name__ == "RenamedFacts"
    (detector,) = create_detectors(["facts-again"], available=found)
    assert detector.name == "facts-again"


def test_duplicate_names_raise_a_typed_error() -> None:
    clash = EntryPoint("file-facts", "tests.detectors.plugin_fixture:ClashingFacts", GROUP)
    with pytest.raises(DuplicateDetectorError, match="file-facts"):
        available_detectors(extra=[clash])


def test_broken_and_wrong_plugins_raise_load_errors() -> None:
    for value in (
        "tests.detectors.plugin_fixture:Missing",
        "tests.no_such_module:X",
        "tests.detectors.plugin_fixture:NotADetector",
    ):
        with pytest.raises(DetectorLoadError):
            available_detectors(extra=[EntryPoint("broken", value, GROUP)])


def test_unknown_name_is_a_typed_error() -> None:
    with pytest.raises(UnknownDetectorError, match="nope"):
        create_detectors(["nope"])


def test_options_reach_the_detector() -> None:
    (detector,) = create_detectors(["file-facts"], {"file-facts": {"x": 1}})
    assert detector.options == {"x": 1}
