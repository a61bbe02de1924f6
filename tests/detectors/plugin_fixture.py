"""Detectors used by tests/detectors/test_plugins.py to stage third-party-style plugins."""

from __future__ import annotations

from detectors.file_facts import FileFactsDetector


class RenamedFacts(FileFactsDetector):
    name = "facts-again"


class ClashingFacts(FileFactsDetector):
    name = "file-facts"


class NotADetector:
    name = "broken"
