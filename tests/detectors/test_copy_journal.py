"""The reference set's delta log: appends, replay on load, torn tails, refresh, compaction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.copy import journal, matcher, reference_store
from detectors.copy.matcher import ReferenceSet, manifest_generation
from detectors.testing.copy_fixtures import EDITS, textured


def _hex(seed: int) -> str:
    return bytes(np.random.default_rng(seed).integers(0, 256, 32, dtype=np.uint8)).hex()


def _state(refs: ReferenceSet) -> list[tuple[int, str, str]]:
    return [(r.ref_id, r.bank, r.pdq) for r in refs.references()]


def _hits(refs: ReferenceSet, pdq_hex: str) -> list[int]:
    code = np.frombuffer(bytes.fromhex(pdq_hex), dtype=np.uint8)[None]
    return refs._pdq.range_search(code, 0).ids.tolist()


def test_saves_append_and_load_replays(tmp_path: Path) -> None:
    refs = ReferenceSet()
    for i in range(5):
        refs.add_hash(i, _hex(i), 90, bank="hashes")
    gen = refs.save(tmp_path)
    base = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir() if ".index" in p.name}

    refs.add_hash(10, _hex(10), 80, bank="late")
    refs.remove(2)
    refs.config = matcher.MatchConfig(bank_thresholds={"late": 20})
    assert refs.save(tmp_path) == gen
    refs.add(11, textured(311, (200, 150)), bank="images")
    assert refs.save(tmp_path) == gen
    assert refs.save(tmp_path) == gen  # nothing changed: nothing written
    assert refs.revision == 3
    # the base files were not rewritten; the log holds two records
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir() if ".index" in p.name} == base
    commits, end = journal.read(tmp_path / f"delta.{gen}.log")
    assert len(commits) == 2 and end == (tmp_path / f"delta.{gen}.log").stat().st_size

    loaded = ReferenceSet.load(tmp_path)
    assert _state(loaded) == _state(refs) and loaded.revision == 3
    assert loaded.config.threshold_for("late") == 20
    assert _hits(loaded, _hex(10)) == [10] and _hits(loaded, _hex(2)) == []
    image = textured(311, (200, 150))
    query = EDITS["crop10"](image)
    assert [(m.reference.ref_id, m.matched) for m in loaded.match(query)] == [
        (m.reference.ref_id, m.matched) for m in refs.match(query)
    ]
    assert any(m.reference.ref_id == 11 and m.matched for m in loaded.match(image))


def test_torn_tail_is_ignored_and_overwritten(tmp_path: Path) -> None:
    refs = ReferenceSet()
    refs.add_hash(1, _hex(1), 90)
    gen = refs.save(tmp_path)
    refs.add_hash(2, _hex(2), 90)
    refs.save(tmp_path)
    log = tmp_path / f"delta.{gen}.log"
    good = log.stat().st_size
    refs.add_hash(3, _hex(3), 90)
    refs.save(tmp_path)
    data = log.read_bytes()
    log.write_bytes(data[:-7])  # a crash in the middle of the last append

    loaded = ReferenceSet.load(tmp_path)
    assert [r.ref_id for r in loaded.references()] == [1, 2]
    # garbage after the last good record is ignored too
    log.write_bytes(data[:good] + b"PRJ1\xff\xff")
    loaded = ReferenceSet.load(tmp_path)
    assert [r.ref_id for r in loaded.references()] == [1, 2]
    # the next save truncates the torn tail and appends a readable record
    loaded.add_hash(4, _hex(4), 90)
    assert loaded.save(tmp_path) == gen
    again = ReferenceSet.load(tmp_path)
    assert [r.ref_id for r in again.references()] == [1, 2, 4]
    # a corrupted byte inside a record fails its checksum: replay stops before it
    raw = bytearray(log.read_bytes())
    raw[good + 20] ^= 0xFF
    log.write_bytes(bytes(raw))
    assert [r.ref_id for r in ReferenceSet.load(tmp_path).references()] == [1, 2]


def test_refresh_picks_up_appends_and_notices_compaction(tmp_path: Path) -> None:
    writer = ReferenceSet()
    writer.add_hash(1, _hex(1), 90)
    gen = writer.save(tmp_path)
    reader = ReferenceSet.load(tmp_path)
    writer.add_hash(2, _hex(2), 90)
    writer.save(tmp_path)
    assert reader.refresh(tmp_path) and 2 in reader
    assert reader.refresh(tmp_path) and len(reader) == 2  # nothing new: no double replay
    writer.remove(1)
    writer.save(tmp_path)
    assert reader.refresh(tmp_path) and 1 not in reader
    assert writer.save(tmp_path, compact=True) == gen + 1
    assert manifest_generation(tmp_path) == gen + 1
    assert not reader.refresh(tmp_path)  # a new base: the reader must reload
    assert _state(ReferenceSet.load(tmp_path)) == _state(writer)


def test_log_compacts_past_a_fraction_of_the_base(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reference_store, "COMPACT_MIN_BYTES", 0)
    refs = ReferenceSet()
    for i in range(20):
        refs.add_hash(i, _hex(i), 90)
    gen = refs.save(tmp_path)
    generations = []
    for i in range(20, 60):
        refs.add_hash(i, _hex(i), 90)
        generations.append(refs.save(tmp_path))
    assert generations[0] == gen and max(generations) > gen  # appended, then compacted
    final = manifest_generation(tmp_path)
    assert final == max(generations)
    logs = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("delta."))
    assert all(int(name.split(".")[1]) >= final - 1 for name in logs)
    assert _state(ReferenceSet.load(tmp_path)) == _state(refs)


def test_stale_writer_snapshots_instead_of_appending(tmp_path: Path) -> None:
    """A set that missed another writer's append does not append after it (it would replay
    on top of state it never saw): it writes a new generation instead."""
    first = ReferenceSet()
    first.add_hash(1, _hex(1), 90)
    gen = first.save(tmp_path)
    other = ReferenceSet.load(tmp_path)
    other.add_hash(2, _hex(2), 90)
    other.save(tmp_path)
    first.add_hash(3, _hex(3), 90)
    assert first.save(tmp_path) == gen + 1
    assert [r.ref_id for r in ReferenceSet.load(tmp_path).references()] == [1, 3]


def test_refresh_reads_the_manifest_only_when_it_was_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The detector refreshes before every batch; the manifest lists every reference, so it
    must not be parsed while it is unchanged (appends go to the log, not the manifest)."""
    writer = ReferenceSet()
    writer.add_hash(1, _hex(1), 90)
    writer.save(tmp_path)
    reader = ReferenceSet.load(tmp_path)
    parses: list[int] = []
    real = reference_store.manifest_generation

    def counting(directory: str | Path) -> int | None:
        parses.append(1)
        return real(directory)

    monkeypatch.setattr(reference_store, "manifest_generation", counting)
    for _ in range(5):
        assert reader.refresh(tmp_path)
    writer.add_hash(2, _hex(2), 90)
    writer.save(tmp_path)  # an append: the writer does not parse its own manifest either
    assert reader.refresh(tmp_path) and 2 in reader
    assert parses == []
    writer.save(tmp_path, compact=True)  # a new base (the writer reads the old manifest)
    parses.clear()
    assert not reader.refresh(tmp_path)  # replaced: parsed once, and seen to be newer
    assert len(parses) == 1
