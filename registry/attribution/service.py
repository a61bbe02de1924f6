"""Enrol and remove generators: versioned records in PostgreSQL, fingerprints in the store.

The caller owns the transaction (``with registry.sessions.begin() as session``); after it
commits, :func:`registry.attribution.publish.publish_gallery` rebuilds the gallery the
detector loads from the committed records. Enrolling builds only the new generator's
fingerprint; other generators' fingerprints are read back unchanged, never recomputed.

A refused enrolment (empty folder, too few images, mixed sizes, corrupt files) stores
nothing: the images are all read and checked before the fingerprint is built, and the
fingerprint enters the store before the record, so a failure leaves at most an unreferenced
store entry, never a record without its file.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.attribution.errors import (
    EnrolmentRefusedError,
    GeneratorExistsError,
    UnknownGeneratorError,
)
from registry.attribution.models import GeneratorEnrolment
from registry.models.store import ModelStore

#: Names a generator may have (they become verdict labels and store entry names).
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
#: Labels the detector uses itself; no generator may take them.
RESERVED = frozenset({"unknown-generator", "not-found", "error"})
FINGERPRINT_KIND = "attribution-fingerprint"


@dataclass(frozen=True)
class EnrolRequest:
    """What ``provreg generator enroll`` asks for."""

    name: str
    folder: Path
    method: str = "residual"
    far: float = 0.05
    replace: bool = False
    actor: str = "unknown"
    backbone: str | None = None
    minimum: int | None = None


def latest(session: Session, name: str) -> GeneratorEnrolment | None:
    """The newest record of ``name`` (enrol or remove)."""
    return session.scalars(
        select(GeneratorEnrolment)
        .where(GeneratorEnrolment.name == name)
        .order_by(GeneratorEnrolment.version.desc())
        .limit(1)
    ).first()


def active(session: Session) -> list[GeneratorEnrolment]:
    """The enrolled generators: each name's newest record, when it is an enrolment."""
    newest = (
        select(GeneratorEnrolment.name, func.max(GeneratorEnrolment.version).label("v"))
        .group_by(GeneratorEnrolment.name)
        .subquery()
    )
    rows = session.scalars(
        select(GeneratorEnrolment)
        .join(
            newest,
            (GeneratorEnrolment.name == newest.c.name) & (GeneratorEnrolment.version == newest.c.v),
        )
        .where(GeneratorEnrolment.action == "enrol")
        .order_by(GeneratorEnrolment.name)
    )
    return list(rows)


def history(session: Session, name: str) -> list[GeneratorEnrolment]:
    """Every record of ``name``, oldest first."""
    return list(
        session.scalars(
            select(GeneratorEnrolment)
            .where(GeneratorEnrolment.name == name)
            .order_by(GeneratorEnrolment.version)
        )
    )


def check_name(name: str) -> None:
    """Refuse names that cannot be labels or store entry names."""
    if not NAME.match(name) or name in RESERVED:
        raise EnrolmentRefusedError(
            f"bad generator name {name!r}: letters, digits, '.', '_', '-' (80 at most), not "
            f"one of {', '.join(sorted(RESERVED))}"
        )


def _backbone(store: ModelStore, name: str | None, method: str) -> tuple[Any, Any] | None:
    if method == "residual":
        return None
    from detectors.learned.runtime import load_runner

    entry = store.get(name) if name else store.latest("backbone")
    if entry is None:
        raise EnrolmentRefusedError(
            f"method {method!r} needs a backbone and the model store has none (provreg models "
            "add NAME FILE --kind backbone), or use --method residual"
        )
    spec = store.resolve(entry.name)
    return load_runner(spec), spec


def enrol(session: Session, store: ModelStore, request: EnrolRequest) -> GeneratorEnrolment:
    """Fingerprint the folder's images and record the enrolment (flushed, not committed)."""
    from detectors.attribution.errors import EnrolmentError
    from detectors.attribution.fingerprint import enrol as build
    from detectors.attribution.images import MIN_IMAGES, read_folder

    check_name(request.name)
    previous = latest(session, request.name)
    if previous is not None and previous.action == "enrol" and not request.replace:
        raise GeneratorExistsError(
            f"generator {request.name!r} is enrolled (version {previous.version}, "
            f"{previous.image_count} images, {previous.at:%Y-%m-%d %H:%M})"
        )
    minimum = request.minimum or MIN_IMAGES
    try:
        images = read_folder(request.folder, minimum)
        backbone = _backbone(store, request.backbone, request.method)
        fingerprint = build(
            request.name,
            images,
            request.method,
            far=request.far,
            backbone=backbone,
            minimum=minimum,
        )
    except EnrolmentError as exc:
        raise EnrolmentRefusedError(f"{request.name}: {exc}; nothing enrolled") from exc
    version = (previous.version if previous is not None else 0) + 1
    entry_name = f"generator-{request.name}-v{version}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fingerprint.safetensors"
        fingerprint.save(path)
        stored = store.add(
            entry_name,
            path,
            kind=FINGERPRINT_KIND,
            fmt="safetensors",
            card={
                "method": request.method,
                "generator": request.name,
                "version": version,
                "image_count": len(images),
            },
            source=f"provreg generator enroll ({request.actor})",
            licence="as the enrolment images",
            replace=True,
        )
    from registry.attribution.publish import record_calibration

    record = GeneratorEnrolment(
        name=request.name,
        version=version,
        action="enrol",
        method=request.method,
        image_count=len(images),
        image_size=f"{fingerprint.size[1]}x{fingerprint.size[0]}",
        far=request.far,
        calibration=record_calibration(fingerprint),
        fingerprint_sha256=stored.sha256,
        store_entry=stored.name,
        source=str(request.folder),
        actor=request.actor,
    )
    session.add(record)
    session.flush()
    return record


def remove(session: Session, name: str, actor: str) -> GeneratorEnrolment:
    """Record the removal of ``name`` (its fingerprint stays in the store for the record)."""
    previous = latest(session, name)
    if previous is None or previous.action != "enrol":
        raise UnknownGeneratorError(f"no enrolled generator {name!r}")
    record = GeneratorEnrolment(
        name=name, version=previous.version + 1, action="remove", actor=actor
    )
    session.add(record)
    session.flush()
    return record


def describe(record: GeneratorEnrolment) -> dict[str, Any]:
    """A record as JSON-ready data."""
    return {
        "name": record.name,
        "version": record.version,
        "action": record.action,
        "method": record.method,
        "image_count": record.image_count,
        "image_size": record.image_size,
        "far": record.far,
        "fingerprint_sha256": record.fingerprint_sha256,
        "store_entry": record.store_entry,
        "source": record.source,
        "by": record.actor,
        "at": record.at.isoformat() if record.at else None,
        "calibration": record.calibration,
    }
