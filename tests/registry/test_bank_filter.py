"""The verdict list can be filtered to copies of one bank's references."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageOps
from skimage import data as skdata

from registry.app import Registry
from registry.banks.ops import add_files
from registry.ingest import ingest_paths
from registry.queries.reads import VerdictFilter, search_verdicts
from registry.settings import Settings


@pytest.mark.slow
def test_bank_filter_returns_copies_of_that_bank_only(
    tmp_path: Path, fresh_database_url: str
) -> None:
    registry = Registry.open(Settings(home=tmp_path / "home", database_url=fresh_database_url))
    refs = tmp_path / "refs"
    refs.mkdir()
    Image.fromarray(skdata.astronaut()).save(refs / "astronaut.png")
    Image.fromarray(skdata.coffee()).save(refs / "coffee.png")
    list(add_files(registry, "flagged", [refs / "astronaut.png"], added_by="t", reason="r"))
    list(add_files(registry, "artworks", [refs / "coffee.png"], added_by="t", reason="r"))
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    ImageOps.mirror(Image.open(refs / "astronaut.png")).save(uploads / "a.jpg", quality=70)
    Image.open(refs / "coffee.png").resize((300, 200)).save(uploads / "c.jpg", quality=70)
    Image.fromarray(skdata.chelsea()).save(uploads / "unrelated.png")
    outcomes = {
        Path(o.path or "").name: o
        for o in ingest_paths(
            registry.sessions,
            registry.ledger,
            registry.detectors(["copy"]),
            [uploads],
            limits=registry.settings.limits,
        )
    }
    try:
        with registry.sessions() as session:
            flagged = search_verdicts(session, VerdictFilter(bank="flagged")).rows
            artworks = search_verdicts(session, VerdictFilter(bank="artworks")).rows
            nothing = search_verdicts(session, VerdictFilter(bank="no-such-bank")).rows
    finally:
        registry.close()
    assert [r.asset_sha256 for r in flagged] == [outcomes["a.jpg"].sha256]
    assert [r.asset_sha256 for r in artworks] == [outcomes["c.jpg"].sha256]
    assert nothing == []
