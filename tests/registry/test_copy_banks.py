"""Banks in PostgreSQL, the copy index they maintain, and the hash-list formats."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.copy import signals
from detectors.copy.detector import CopyDetector
from detectors.testing.conformance import sample_from_image
from detectors.testing.copy_fixtures import EDITS, null_images, reference_images
from registry.app import Registry
from registry.banks import ops as bank_ops
from registry.banks import services as banks
from registry.banks.csv_lists import ExportRow, HashListError, parse_hash_list, write_hash_list
from registry.banks.index import load_references
from registry.banks.search import search_image
from registry.db.models_banks import BankReference
from registry.settings import Settings

HASH_A = "f" * 32 + "0" * 32
HASH_B = "0123456789abcdef" * 4


# --- services on a rolled-back session ---------------------------------------------------


def test_bank_lifecycle_rows(db_session: Session) -> None:
    bank = banks.ensure_bank(db_session, "flagged", created_by="alice")
    assert bank.enabled and bank.pdq_threshold == 31 and bank.created_by == "alice"
    row, created = banks.add_reference(
        db_session,
        bank,
        banks.NewReference(pdq=HASH_A.upper(), quality=90, sha256="a" * 64),
        added_by="alice",
        reason="reported twice",
    )
    assert created and row.pdq == HASH_A and row.added_by == "alice"
    assert row.reason == "reported twice" and row.added_at is not None
    again, created = banks.add_reference(
        db_session, bank, banks.NewReference(pdq=HASH_A, quality=90, sha256="a" * 64)
    )
    assert not created and again.id == row.id
    hash_only, _ = banks.add_reference(db_session, bank, banks.NewReference(HASH_B, None))
    (summary,) = banks.list_banks(db_session)
    assert (summary.name, summary.active, summary.removed) == ("flagged", 2, 0)

    banks.set_enabled(db_session, "flagged", False)
    assert banks.matchable_references(db_session) == []
    banks.set_enabled(db_session, "flagged", True)
    assert {r.id for r, _ in banks.matchable_references(db_session)} == {row.id, hash_only.id}

    (removed,) = banks.remove_reference(db_session, "flagged", "a" * 64, removed_by="bob")
    assert removed.id == row.id
    kept = db_session.scalar(select(BankReference).where(BankReference.id == row.id))
    assert kept is not None and kept.removed_at is not None and kept.removed_by == "bob"
    assert [r.id for r, _ in banks.matchable_references(db_session)] == [hash_only.id]
    (summary,) = banks.list_banks(db_session)
    assert (summary.active, summary.removed) == (1, 1)
    with pytest.raises(banks.BankError):
        banks.remove_reference(db_session, "flagged", "a" * 64)
    # a removed reference can be added again as a new row
    _, created = banks.add_reference(
        db_session, bank, banks.NewReference(pdq=HASH_A, quality=90, sha256="a" * 64)
    )
    assert created


def test_bank_errors(db_session: Session) -> None:
    with pytest.raises(banks.BankError):
        banks.get_bank(db_session, "nope")
    with pytest.raises(banks.BankError):
        banks.ensure_bank(db_session, "bad name!")
    with pytest.raises(banks.BankError):
        banks.ensure_bank(db_session, "b", pdq_threshold=500)
    bank = banks.ensure_bank(db_session, "b", pdq_threshold=20)
    assert banks.bank_thresholds(db_session) == {"b": 20}
    with pytest.raises(banks.BankError):
        banks.add_reference(db_session, bank, banks.NewReference("xyz", None))


# --- hash lists ----------------------------------------------------------------------------


def test_te_csv_round_trip() -> None:
    out = io.StringIO()
    rows = [
        ExportRow(1, HASH_A, datetime(2026, 1, 2, tzinfo=UTC)),
        ExportRow(2, HASH_B, datetime.now(UTC)),
    ]
    assert write_hash_list(out, "te", "flagged", rows) == 2
    assert out.getvalue().splitlines()[0] == "signal_type,signal_str,collab,category,tags"
    fmt, parsed = parse_hash_list(out.getvalue())
    assert fmt == "te" and [r.pdq for r in parsed] == [HASH_A, HASH_B]
    assert parsed[0].note == "collab=flagged"


def test_hma_rows_round_trip() -> None:
    out = io.StringIO()
    write_hash_list(out, "hma", "flagged", [ExportRow(7, HASH_B, datetime(2026, 1, 2, tzinfo=UTC))])
    line = out.getvalue().strip()
    assert line == f"{HASH_B},7,7,2026-01-02T00:00:00+00:00,flagged"
    fmt, (row,) = parse_hash_list(line + "\n")
    assert fmt == "hma" and row.pdq == HASH_B and row.quality is None
    assert row.note == "hma indicator 7 [flagged]"


def test_pdq_hasher_lines_and_other_signal_types() -> None:
    fmt, rows = parse_hash_list(f"{HASH_A},87,photo.jpg\n{HASH_B}\n")
    assert fmt == "pdq" and [(r.pdq, r.quality) for r in rows] == [(HASH_A, 87), (HASH_B, None)]
    te = "signal_type,signal_str,collab,category,tags\nmd5,abc,x,,\npdq," + HASH_A + ",x,,t\n"
    assert [r.pdq for r in parse_hash_list(te)[1]] == [HASH_A]
    with pytest.raises(HashListError, match="line 2"):
        parse_hash_list(f"{HASH_A},50\nnot-a-hash,50\n")
    with pytest.raises(HashListError):
        parse_hash_list(f"{HASH_A},500\n")
    assert parse_hash_list("") == ("empty", [])


# --- bank operations against a committed database and a real index -------------------------


@pytest.fixture
def registry(fresh_database_url: str, tmp_path: Path) -> Iterator[Registry]:
    settings = Settings(home=tmp_path / "home", database_url=fresh_database_url)
    reg = Registry.open(settings)
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def ref_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("refs")
    images = reference_images()
    out = {}
    for name in ("astronaut", "rocket"):
        out[name] = folder / f"{name}.png"
        images[name].save(out[name])
    return out


def _detector(registry: Registry) -> CopyDetector:
    (detector,) = registry.detectors(["copy"])
    assert isinstance(detector, CopyDetector)
    detector.load()
    return detector


def _judge(detector: CopyDetector, image: object) -> tuple[bool, list[str]]:
    (verdict,) = detector.detect_batch([sample_from_image(image)])  # type: ignore[arg-type]
    matches: Any = verdict.evidence.get("matches") or []
    return verdict.positive, [str(m["bank"]) for m in matches if m["match"]]


def test_disable_enable_remove_follow_through_to_the_index(
    registry: Registry, ref_files: dict[str, Path]
) -> None:
    outcomes = list(
        bank_ops.add_files(registry, "flagged", ref_files.values(), added_by="alice", reason="test")
    )
    assert [o.status for o in outcomes] == ["added", "added"]
    astronaut = EDITS["jpeg50"](reference_images()["astronaut"])
    detector = _detector(registry)  # loaded once: it must pick up every later generation
    assert _judge(detector, astronaut) == (True, ["flagged"])

    bank_ops.set_enabled(registry, "flagged", False)
    assert _judge(detector, astronaut) == (False, [])
    change = bank_ops.set_enabled(registry, "flagged", True)
    assert sorted(change.added) == sorted(o.ref_id or 0 for o in outcomes)
    assert not change.hash_only
    assert _judge(detector, astronaut) == (True, ["flagged"])

    rows = bank_ops.remove(registry, "flagged", outcomes[0].sha256, removed_by="bob")
    assert [r.id for r in rows] == [outcomes[0].ref_id]
    assert _judge(detector, astronaut) == (False, [])
    rocket = EDITS["hflip"](reference_images()["rocket"])
    assert _judge(detector, rocket) == (True, ["flagged"])
    with registry.sessions() as session:
        all_rows = banks.bank_references(session, "flagged", include_removed=True)
    assert [r.removed_at is not None for r in all_rows] == [True, False]

    change = bank_ops.rebuild_index(registry)
    assert change.size == 1 and change.added == [outcomes[1].ref_id]


def test_hash_only_references_match_by_pdq_with_bank_thresholds(registry: Registry) -> None:
    images = reference_images()
    coffee = images["coffee"]
    pdq = signals.pdq(coffee)
    added, existing = bank_ops.import_hashes(
        registry,
        "shared",
        parse_hash_list(f"{pdq.hex},{pdq.quality},coffee.jpg\n")[1],
        added_by="exchange",
        reason="import",
    )
    assert (added, existing) == (1, 0)
    references = load_references(registry.settings)
    assert references is not None
    (ref,) = references.references()
    assert ref.hash_only and ref.sha256 == "" and ref.bank == "shared"

    query = EDITS["resize0.5"](coffee)
    detector = _detector(registry)
    assert _judge(detector, query) == (True, ["shared"])
    distance = min(signals.hamming(v.code, pdq.code) for v in signals.pdq_dihedral(query))
    assert distance > 0
    bank_ops.set_threshold(registry, "shared", distance - 1)
    assert _judge(detector, query) == (False, [])
    bank_ops.set_threshold(registry, "shared", distance)
    assert _judge(detector, query) == (True, ["shared"])

    for name, image in list(null_images().items())[:6]:
        assert _judge(detector, image)[0] is False, name

    buffer = io.BytesIO()
    query.save(buffer, "PNG")
    (candidate,) = search_image(registry.settings, buffer.getvalue(), 5)
    assert candidate.match and candidate.reference_sha256 is None and candidate.bank == "shared"
    assert candidate.verified is None and candidate.signal == "pdq"
    # the rebuild keeps hash-only references hash-only
    assert bank_ops.rebuild_index(registry).hash_only == [ref.ref_id]


def test_registry_passes_the_copy_index_to_the_detector(registry: Registry, tmp_path: Path) -> None:
    options = registry.detector_options()
    assert options["copy"]["index_dir"] == str(registry.settings.home / "indexes" / "copy")
    configured = Settings(
        home=registry.settings.home,
        database_url=registry.url,
        detector_options={"copy": {"index_dir": str(tmp_path / "elsewhere")}, "metadata": {"x": 1}},
    )
    other = Registry(settings=configured, url=registry.url, engine=registry.engine)
    assert other.detector_options() == {
        "copy": {"index_dir": str(tmp_path / "elsewhere")},
        "metadata": {"x": 1},
    }
    assert configured.copy_index_dir == tmp_path / "elsewhere"
