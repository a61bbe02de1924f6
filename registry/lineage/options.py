"""Merge registered models and weight keys into the ``model.*`` detectors' options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker


def add_lineage(
    options: dict[str, dict[str, Any]], sessions: sessionmaker[Session], home: Path
) -> None:
    """Give ``model.lineage`` the registered models and ``model.watermark`` the keys.

    Configured options are kept; registered entries are appended. A database whose schema
    predates the lineage tables contributes nothing. Imported lazily: the model package is
    only loaded when something is registered.
    """
    with sessions() as session:
        if not inspect(session.connection()).has_table("lineage_models"):
            return
        from registry.lineage.store import lineage_options

        found = lineage_options(session, home)
    for detector, extra in found.items():
        mine = options.setdefault(detector, {})
        for key, values in extra.items():
            mine[key] = [*mine.get(key, []), *values]
