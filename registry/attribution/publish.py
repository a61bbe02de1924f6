"""Assemble the gallery the ``attribution`` detector loads, and calibrate it.

:func:`publish_gallery` reads the committed active enrolments, loads each fingerprint from
the model store (its SHA-256 checked against the record), and writes the gallery as the
store entry ``attribution-gallery`` (kind ``attribution``). Its SHA-256 is the detector's
model checksum, so every enrolment, removal or calibration makes ``provreg rescan
--detector attribution`` see a new detector identity.

:func:`calibrate` sets the gallery-wide threshold on the top z score so that at most ``far``
of held-out images of *unenrolled* generators are attributed to an enrolled one, and
reports what that costs on held-out images of the enrolled generators.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.attribution.errors import EnrolmentRefusedError, GalleryError
from registry.attribution.models import AttributionCalibration, GeneratorEnrolment
from registry.attribution.service import active
from registry.models.errors import ModelStoreError
from registry.models.store import ModelStore

GALLERY = "attribution-gallery"
#: Fewest held-out images per side that ``calibrate`` accepts.
MIN_CALIBRATION = 10


def record_calibration(fingerprint: Any) -> dict[str, Any]:
    """What an enrol record keeps of the fingerprint's own calibration."""
    from detectors.attribution.gallery import combined_null

    null = combined_null(fingerprint)
    return {
        "null_set": "open-space negatives (POSE-style augmentations of the enrolment images)",
        "negatives": len(null.scores),
        "far": fingerprint.far,
        "z_threshold": round(null.z_threshold(fingerprint.far), 4),
    }


def latest_calibration(session: Session) -> AttributionCalibration | None:
    """The newest gallery-wide calibration, if any."""
    return session.scalars(
        select(AttributionCalibration).order_by(AttributionCalibration.id.desc()).limit(1)
    ).first()


def load_gallery(session: Session, store: ModelStore) -> tuple[Any, list[GeneratorEnrolment]]:
    """The gallery of the committed active enrolments (fingerprint hashes checked)."""
    from detectors.attribution.fingerprint import Fingerprint
    from detectors.attribution.gallery import Gallery
    from detectors.learned.errors import LearnedModelError
    from detectors.learned.files import verify_checksum

    records = active(session)
    fingerprints = []
    for record in records:
        try:
            path = store.blob_path(str(record.fingerprint_sha256))
            verify_checksum(path, str(record.fingerprint_sha256))
            fingerprints.append(Fingerprint.load(path))
        except (LearnedModelError, OSError, ModelStoreError) as exc:
            raise GalleryError(f"fingerprint of {record.name} v{record.version}: {exc}") from exc
    calib = latest_calibration(session)
    calibration = None
    if calib is not None:
        calibration = {
            "threshold": calib.threshold,
            "far": calib.far,
            "known_images": calib.known_images,
            "unknown_images": calib.unknown_images,
            "calibrated_at": calib.at.isoformat() if calib.at else None,
            "calibrated_by": calib.actor,
            "metrics": calib.metrics,
            "generators": calib.generators,
        }
    summary = [
        {
            "name": r.name,
            "version": r.version,
            "sha256": r.fingerprint_sha256,
            "method": r.method,
            "image_count": r.image_count,
        }
        for r in records
    ]
    return Gallery(fingerprints, summary, calibration), records


def publish_gallery(session: Session, store: ModelStore) -> str | None:
    """Write the gallery entry from the committed records; its SHA-256, or None when no
    generator is enrolled (the entry is then removed)."""
    gallery, records = load_gallery(session, store)
    if not records:
        if any(e.name == GALLERY for e in store.entries()):
            store.remove(GALLERY)
        return None
    backbones = {fp.backbone for fp in gallery.fingerprints if fp.backbone}
    card: dict[str, Any] = {
        "method": "gallery",
        "generators": gallery.records,
        "description": "enrolled generator fingerprints (provreg generator)",
    }
    if backbones:
        card["backbone"] = sorted(backbones)[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gallery.safetensors"
        gallery.save(path)
        entry = store.add(
            GALLERY,
            path,
            kind="attribution",
            fmt="safetensors",
            card=card,
            source="provreg generator",
            licence="as the enrolment images",
            replace=True,
        )
    return entry.sha256


def calibrate(
    session: Session,
    store: ModelStore,
    known: Mapping[str, Sequence[Any]],
    unknown: Sequence[Any],
    far: float,
    actor: str,
) -> AttributionCalibration:
    """Record the threshold at which at most ``far`` of ``unknown`` images are attributed.

    ``known`` maps enrolled generator names to held-out images of theirs; ``unknown`` holds
    images of generators that are not enrolled.
    """
    from detectors.attribution.evaluate import evaluate, open_set_scores
    from detectors.attribution.gallery import Gallery
    from detectors.learned.calibration import calibrate as threshold_at

    gallery, records = load_gallery(session, store)
    names = {r.name for r in records}
    if not records:
        raise EnrolmentRefusedError("no generator is enrolled; nothing to calibrate")
    strangers = sorted(set(known) - names)
    if strangers:
        raise EnrolmentRefusedError(
            f"known folders name generators that are not enrolled: {', '.join(strangers)}"
        )
    count_known = sum(len(v) for v in known.values())
    if count_known < MIN_CALIBRATION or len(unknown) < MIN_CALIBRATION:
        raise EnrolmentRefusedError(
            f"calibration needs at least {MIN_CALIBRATION} known and {MIN_CALIBRATION} unknown "
            f"images (got {count_known} and {len(unknown)})"
        )
    own = Gallery(gallery.fingerprints, gallery.records, None)
    # Scores on the common z scale: with a gallery-wide threshold the margin is z - threshold.
    zero = Gallery(own.fingerprints, own.records, {"threshold": 0.0})
    unknown_z = [m for _, _, m in open_set_scores(zero, list(unknown))]
    threshold = threshold_at(unknown_z, far, "held-out unknown generators").threshold
    calibrated = Gallery(own.fingerprints, own.records, {"threshold": threshold})
    figures = evaluate(calibrated, known, {"unknown": list(unknown)}).to_json()
    record = AttributionCalibration(
        far=far,
        threshold=threshold,
        known_images=count_known,
        unknown_images=len(unknown),
        metrics=figures,
        generators={r.name: r.fingerprint_sha256 for r in records},
        actor=actor,
    )
    session.add(record)
    session.flush()
    return record
