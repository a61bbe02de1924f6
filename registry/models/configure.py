"""Give learned detectors their weights: store entries resolved into detector options.

For every registered :class:`LearnedDetector`, ``[detector_options.<name>] model = "NAME"`` in
config.toml picks a store entry; without it the newest entry of the detector's kind is used.
The entry is resolved to a :class:`ModelSpec` (local path, pinned SHA-256, architecture, card)
and passed as ``options["model"]``. A learned detector with no entry is left out of the
default detector set with a logged reason; named explicitly, it runs and answers
``model-unavailable`` — never "not found".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from detectors.base import Detector
from detectors.learned.detector import LearnedDetector
from registry.models.store import ModelStore

log = logging.getLogger(__name__)


def store_for(home: Any) -> ModelStore:
    """The store under ``$PROVREG_HOME/models``."""
    from pathlib import Path

    return ModelStore(Path(home) / "models")


def add_models(
    options: dict[str, dict[str, Any]],
    classes: Callable[[], Mapping[str, type[Detector]]],
    store: ModelStore,
) -> None:
    """Put the resolved model of each learned detector into ``options`` (in place).

    ``classes`` is called (importing every registered detector) only when the store has
    entries: with an empty store there is nothing to resolve and nothing is imported.
    """
    named = any(isinstance(o.get("model"), str) for o in options.values())
    if not named and not store.entries():
        return
    for name, cls in classes().items():
        if not issubclass(cls, LearnedDetector):
            continue
        mine = dict(options.get(name, {}))
        if isinstance(mine.get("synthetic"), str):  # attribution's gate: a store entry name
            mine["synthetic"] = store.resolve(str(mine["synthetic"])).to_options()
            options[name] = mine
        chosen = mine.get("model")
        if isinstance(chosen, Mapping):
            continue  # already a resolved spec (tests, or a caller that resolved it)
        if chosen:
            mine["model"] = store.resolve(str(chosen)).to_options()
        elif (entry := store.latest(cls.model_kind)) is not None:
            mine["model"] = store.resolve(entry.name).to_options()
        else:
            continue
        options[name] = mine


def default_names(
    classes: Mapping[str, type[Detector]],
    options: Mapping[str, Mapping[str, Any]],
) -> list[str]:
    """Registered detectors minus those whose ``required_option`` is empty (learned detectors
    without weights, ``model.watermark`` without keys), each such one logged."""
    names = []
    for name, cls in classes.items():
        needed = cls.required_option
        if needed is not None and not options.get(name, {}).get(needed):
            if issubclass(cls, LearnedDetector):
                log.warning(
                    "detector %s left out: no %s model in the store (provreg models add "
                    "or provreg train %s)",
                    name,
                    cls.model_kind,
                    cls.model_kind,
                )
            else:
                log.info("detector %s left out: its option %r is empty", name, needed)
            continue
        names.append(name)
    return names
