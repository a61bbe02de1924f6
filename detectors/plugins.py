"""Detector discovery through the ``provreg.detectors`` entry-point group.

Built-in detectors are registered in pyproject.toml exactly like third-party plugins, so the
path a plugin takes is the path every built-in takes and is exercised by every test run.

Errors::

    DetectorError
    ├── DuplicateDetectorError   two entry points claim the same detector name
    ├── DetectorLoadError        an entry point failed to import or is not a Detector
    └── UnknownDetectorError     a name was asked for that no entry point provides
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from detectors.base import Detector

ENTRY_POINT_GROUP = "provreg.detectors"


class DetectorError(Exception):
    """Base class for detector discovery errors."""


class DuplicateDetectorError(DetectorError):
    """Two registered detectors share one name."""


class DetectorLoadError(DetectorError):
    """A registered detector could not be imported or is not a Detector subclass."""


class UnknownDetectorError(DetectorError):
    """A detector name was requested that is not registered."""


def _load(entry_point: EntryPoint) -> type[Detector]:
    try:
        obj = entry_point.load()
    except Exception as exc:
        raise DetectorLoadError(
            f"detector entry point {entry_point.name!r} ({entry_point.value}) failed to load: {exc}"
        ) from exc
    if not (isinstance(obj, type) and issubclass(obj, Detector)):
        raise DetectorLoadError(
            f"detector entry point {entry_point.name!r} ({entry_point.value}) is not a Detector"
        )
    if obj.name != entry_point.name:
        raise DetectorLoadError(
            f"entry point {entry_point.name!r} names a detector called {obj.name!r}"
        )
    return obj


def registered_entry_points(extra: Iterable[EntryPoint] = ()) -> dict[str, EntryPoint]:
    """Registered detector entry points by name, without importing any detector.

    ``extra`` adds entry points beyond the installed ones (tests use it to stage plugins).
    Raises :class:`DuplicateDetectorError` when two distinct entry points claim one name.
    """
    found: dict[str, EntryPoint] = {}
    for entry_point in [*entry_points(group=ENTRY_POINT_GROUP), *extra]:
        previous = found.get(entry_point.name)
        if previous is not None:
            if previous.value == entry_point.value:
                continue  # the same distribution seen twice on sys.path
            raise DuplicateDetectorError(
                f"detector {entry_point.name!r} is registered by both "
                f"{previous.value} and {entry_point.value}"
            )
        found[entry_point.name] = entry_point
    return dict(sorted(found.items()))


def available_detectors(extra: Iterable[EntryPoint] = ()) -> dict[str, type[Detector]]:
    """All registered detector classes by name, built-ins and plugins alike (imports them)."""
    return {name: _load(ep) for name, ep in registered_entry_points(extra).items()}


def create_detectors(
    names: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    available: Mapping[str, type[Detector]] | None = None,
) -> list[Detector]:
    """Instantiate detectors by name (all registered ones when ``names`` is None).

    Only the detectors asked for are imported. ``options`` maps a detector name to the
    options its constructor receives.
    """
    if available is not None:
        classes: Mapping[str, type[Detector] | EntryPoint] = available
    else:
        classes = registered_entry_points()
    wanted = list(classes) if names is None else list(names)
    unknown = [name for name in wanted if name not in classes]
    if unknown:
        raise UnknownDetectorError(
            f"unknown detector(s) {', '.join(unknown)}; registered: {', '.join(classes)}"
        )
    options = options or {}
    detectors = []
    for name in wanted:
        found = classes[name]
        cls = found if isinstance(found, type) else _load(found)
        detectors.append(cls(options.get(name, {})))
    return detectors
