"""ReferenceSet additions the banks rely on: hash-only references and per-bank thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.copy import signals
from detectors.copy.matcher import MatchConfig, ReferenceSet, ReferenceSetError
from detectors.testing.copy_fixtures import EDITS, null_images, reference_images


def _distance(image: object, pdq: signals.PDQHash) -> int:
    variants = signals.pdq_dihedral(image)  # type: ignore[arg-type]
    return min(signals.hamming(v.code, pdq.code) for v in variants)


def test_hash_only_reference_matches_by_pdq_and_survives_save_load(tmp_path: Path) -> None:
    images = reference_images()
    pdq = signals.pdq(images["rocket"])
    refs = ReferenceSet()
    ref = refs.add_hash(5, pdq.hex.upper(), pdq.quality, bank="shared")
    assert ref.hash_only and ref.pdq == pdq.hex and 5 in refs and 6 not in refs
    with pytest.raises(ReferenceSetError):
        refs.add_hash(5, pdq.hex, pdq.quality)
    with pytest.raises(signals.SignalError):
        refs.add_hash(6, "zz", 90)
    refs.add(7, images["astronaut"], sha256="a" * 64, bank="own")
    refs.save(tmp_path)
    loaded = ReferenceSet.load(tmp_path)
    assert [r.hash_only for r in loaded.references()] == [True, False]

    query = EDITS["jpeg50"](images["rocket"])
    (best, *_) = loaded.match(query)
    assert best.matched and best.reference.ref_id == 5 and best.signal == "pdq"
    assert best.phash_distance is None and best.verification is None
    assert best.to_json()["reference_sha256"] == ""
    for name, image in list(null_images().items())[:5]:
        assert not any(m.matched for m in loaded.match(image)), name
    assert loaded.remove(5) and not any(m.reference.ref_id == 5 for m in loaded.match(query))


def test_bank_thresholds_override_the_default_and_persist(tmp_path: Path) -> None:
    images = reference_images()
    query = EDITS["resize0.5"](images["coffee"])
    pdq = signals.pdq(images["coffee"])
    distance = _distance(query, pdq)
    assert distance > 0
    config = MatchConfig(bank_thresholds={"strict": distance - 1})
    assert config.threshold_for("strict") == distance - 1 and config.threshold_for("x") == 31
    refs = ReferenceSet(config)
    refs.add_hash(1, pdq.hex, pdq.quality, bank="strict")
    assert not any(m.matched for m in refs.match(query))
    refs.save(tmp_path)
    assert ReferenceSet.load(tmp_path).config.bank_thresholds == {"strict": distance - 1}
    loose = ReferenceSet(MatchConfig(bank_thresholds={"strict": distance}))
    loose.add_hash(1, pdq.hex, pdq.quality, bank="strict")
    assert loose.match(query)[0].matched
