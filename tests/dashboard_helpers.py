"""Seed a registry for dashboard tests through the real ingest path, and drive logins."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import PngImagePlugin

from detectors.base import Verdict
from registry.app import Registry
from registry.auth.accounts import add_user
from registry.ingest import ingest_paths
from registry.settings import Settings
from registry.testing.badfiles import noise

PASSWORDS = {"ivy": "investigator-pw", "ada": "admin-pass-1", "vic": "viewer-pass-1"}
ROLES = {"ivy": "investigator", "ada": "admin", "vic": "viewer"}
A1111 = (
    "a red fox in snow\nNegative prompt: blurry\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 64x48"
)


@dataclass(frozen=True)
class Seeded:
    """What the seeded registry holds."""

    alpha: list[str]  # sha256 of good files ingested with source "alpha"
    beta: list[str]  # ... with source "beta"
    bad: str  # sha256 of a file intake rejected
    rescanned: str  # asset with "synthetic" verdicts from two versions
    files: dict[str, Path]  # sha256 -> file


def _png(seed: int) -> bytes:
    buffer = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    noise(seed, (64, 48)).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def seed_registry(settings: Settings, folder: Path) -> Seeded:
    """Ingest 3 + 2 good files from two sources and one bad file, append a re-scan's verdicts
    (two versions of a 'synthetic' detector) and create one user per role."""
    registry = Registry.open(settings)
    try:
        files: dict[str, Path] = {}
        groups: dict[str, list[Path]] = {"alpha": [], "beta": []}
        for i in range(5):
            group = "alpha" if i < 3 else "beta"
            path = folder / group / f"img{i}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_png(i))
            groups[group].append(path)
        bad = folder / "bad" / "broken.png"
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_bytes(_png(99)[:60])
        groups["alpha"].append(bad)
        shas: dict[str, list[str]] = {}
        bad_sha = ""
        for source, paths in groups.items():
            outcomes = list(
                ingest_paths(
                    registry.sessions,
                    registry.ledger,
                    registry.detectors(),
                    paths,
                    limits=settings.limits,
                    source=source,
                )
            )
            for outcome in outcomes:
                if outcome.status == "ok":
                    shas.setdefault(source, []).append(outcome.sha256)
                    assert outcome.path is not None
                    files[outcome.sha256] = Path(outcome.path)
                else:
                    bad_sha = outcome.sha256
        rescanned = shas["alpha"][0]
        with registry.sessions.begin() as session:
            versions = [
                _synthetic(rescanned, "1.0", 0.91, "sdxl", True),
                _synthetic(rescanned, "2.0", 0.12, "not-found", False),
                _synthetic(shas["beta"][0], "2.0", 0.97, "sdxl", True),
            ]
            registry.ledger.append(session, versions)
            registry.ledger.checkpoint(session)
            for name, role in ROLES.items():
                add_user(session, name, PASSWORDS[name], role)
        return Seeded(shas["alpha"], shas["beta"], bad_sha, rescanned, files)
    finally:
        registry.close()


def _synthetic(sha: str, version: str, score: float, label: str, positive: bool) -> Verdict:
    return Verdict(
        detector="synthetic",
        version=version,
        model_checksum=None,
        asset_sha256=sha,
        label=label,
        positive=positive,
        score=score,
        p_value=1e-9 if positive else 0.4,
        evidence={
            "bits": "1011001110101100" * 3,
            "validation_state": "Valid",
            "validation_status": [{"code": "claimSignature.validated"}],
            "actions": [{"action": "c2pa.created", "digitalSourceType": "trainedAlgorithmicMedia"}],
        },
    )


def seed_copy(settings: Settings, folder: Path) -> tuple[str, str]:
    """Bank a reference photo in bank "news" and ingest a 10% crop of it with the copy
    detector (a verified match); returns (crop sha256, reference sha256)."""
    from detectors.testing.copy_fixtures import EDITS, reference_images
    from registry.banks.ops import add_files

    registry = Registry.open(settings)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        rocket = reference_images()["rocket"]
        reference = folder / "rocket-reference.png"
        rocket.save(reference)
        added = list(add_files(registry, "news", [reference], added_by="ada", reason="wire photo"))
        crop = folder / "rocket-crop.jpg"
        EDITS["crop10"](rocket).save(crop, quality=90)
        (outcome,) = list(
            ingest_paths(
                registry.sessions,
                registry.ledger,
                registry.detectors(["copy"]),
                [crop],
                limits=settings.limits,
                source="gamma",
            )
        )
        with registry.sessions.begin() as session:
            registry.ledger.checkpoint(session)
        ref_sha = getattr(added[0], "sha256", None) or ""
        return outcome.sha256, ref_sha
    finally:
        registry.close()
