"""Retroactive matching: banking content finds its earlier copies in the archive (issue #16)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from detectors.copy.detector import CopyDetector
from detectors.testing.copy_fixtures import (
    EDITS,
    copy_cli_env,
    reference_images,
    save_image,
    textured,
)
from ray_jobs.rescan import outdated_detectors
from registry.app import Registry
from registry.banks import ops as bank_ops
from registry.banks.retro.matching import RETRO_VERSION, retro_match
from registry.banks.retro.models import ArchiveHash, RetroRun
from registry.banks.retro.queries import bank_matches
from registry.db.models import VerdictRow
from registry.ingest import inline_executor
from registry.queries.reads import VerdictFilter, search_verdicts
from registry.settings import Settings
from tests.registry.test_cli import json_lines, provreg


class Killed(Exception):
    """Stands in for the process dying after a committed chunk."""


@pytest.fixture
def registry(fresh_database_url: str, tmp_path: Path) -> Iterator[Registry]:
    reg = Registry.open(Settings(home=tmp_path / "home", database_url=fresh_database_url))
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def coffee() -> object:
    return reference_images()["coffee"]


def _archive(registry: Registry, folder: Path, coffee: object) -> dict[str, str]:
    """Ingest two edited copies of the coffee photo and an unrelated image; path -> sha."""
    files = [
        save_image(EDITS["jpeg50"](coffee), folder / "a-coffee-q50.jpg"),  # type: ignore[arg-type]
        save_image(EDITS["resize0.5"](coffee), folder / "b-coffee-half.png"),  # type: ignore[arg-type]
        save_image(textured(7), folder / "c-other.png"),
    ]
    outcomes = list(
        inline_executor(registry, registry.detectors(["file-facts"]), files, source="archive-test")
    )
    assert all(o.status == "ok" for o in outcomes)
    return {Path(str(o.path)).name: o.sha256 for o in outcomes}


def _retro_rows(registry: Registry) -> list[tuple[str, str | None, str]]:
    with registry.sessions() as session:
        return [
            (r.asset_sha256, r.model_checksum, r.label)
            for r in session.scalars(
                select(VerdictRow)
                .where(VerdictRow.version == RETRO_VERSION)
                .order_by(VerdictRow.log_index)
            )
        ]


def test_archive_index_holds_every_ingested_image(
    registry: Registry, tmp_path: Path, coffee: object
) -> None:
    shas = _archive(registry, tmp_path / "archive", coffee)
    with registry.sessions() as session:
        archived = set(session.scalars(select(ArchiveHash.asset_sha256)))
    assert archived == set(shas.values())


def test_run_twice_appends_nothing_the_second_time(
    registry: Registry, tmp_path: Path, coffee: object
) -> None:
    shas = _archive(registry, tmp_path / "archive", coffee)
    ref = save_image(coffee, tmp_path / "refs" / "coffee.png")  # type: ignore[arg-type]
    (added,) = list(bank_ops.add_files(registry, "art", [ref], added_by="t", reason=None))
    assert added.ref_id is not None

    (first,) = retro_match(registry, "art", trigger="add", reference_ids=[added.ref_id])
    assert first.generation == 1 and first.verdicts_written == 2 and first.matches == 2
    found = {m.asset_sha256 for m in _matches(registry)}
    assert found == {shas["a-coffee-q50.jpg"], shas["b-coffee-half.png"]}

    with registry.sessions() as session:  # the dashboard's "Copy of bank" filter
        rows = search_verdicts(session, VerdictFilter(bank="art")).rows
        other = search_verdicts(session, VerdictFilter(bank="elsewhere")).rows
    assert {r.asset_sha256 for r in rows} == found and other == []
    with registry.sessions() as session:  # retro verdicts are no detector version to re-run
        assert outdated_detectors(session, [CopyDetector()]) == []

    (second,) = retro_match(registry, "art")
    assert second.generation == 2 and second.matches == 2 and second.verdicts_written == 0
    rows = _retro_rows(registry)
    assert len(rows) == 2 and len(set(rows)) == 2
    assert all(checksum == f"ref:{added.ref_id}" for _, checksum, _ in rows)


def test_killed_after_a_partial_commit_resumes_without_duplicates(
    registry: Registry, tmp_path: Path, coffee: object
) -> None:
    _archive(registry, tmp_path / "archive", coffee)
    ref = save_image(coffee, tmp_path / "refs" / "coffee.png")  # type: ignore[arg-type]
    (added,) = list(bank_ops.add_files(registry, "art", [ref], added_by="t", reason=None))

    def die(number: int) -> None:
        raise Killed(f"killed after chunk {number}")

    with pytest.raises(Killed):
        retro_match(
            registry,
            "art",
            trigger="add",
            reference_ids=[added.ref_id or 0],
            chunk=1,
            after_chunk=die,
        )
    assert len(_retro_rows(registry)) == 1  # the first chunk was committed
    with registry.sessions() as session:
        (run,) = session.scalars(select(RetroRun))
        assert run.status == "running" and run.generation == 1

    resumed, fresh = retro_match(registry, "art", chunk=1)
    assert resumed.resumed and resumed.generation == 1 and resumed.verdicts_written == 1
    assert fresh.generation == 2 and fresh.verdicts_written == 0
    rows = _retro_rows(registry)
    assert len(rows) == 2 and len({r[0] for r in rows}) == 2
    with registry.sessions() as session:
        statuses = list(session.scalars(select(RetroRun.status).order_by(RetroRun.id)))
        assert statuses == ["finished", "finished"]
        generations = {m.bank_generation for m in _matches(registry)}
        assert generations == {1}
        assert session.scalar(select(func.count()).select_from(VerdictRow)) > 2


def _matches(registry: Registry) -> list:  # type: ignore[type-arg]
    with registry.sessions() as session:
        return bank_matches(session, "art")


@pytest.mark.slow
def test_issue_reproduction_through_the_cli(
    provreg_env: dict[str, str], tmp_path: Path, coffee: object
) -> None:
    """Ingest an archive, bank a photo that is in it: the archived copy gets a signed copy
    match under that bank without re-ingesting; removing the reference withdraws it."""
    env = copy_cli_env(provreg_env)
    archive = tmp_path / "archive"
    save_image(EDITS["jpeg50"](coffee), archive / "coffee-q50.jpg")  # type: ignore[arg-type]
    save_image(textured(3), archive / "other.png")
    lines = json_lines(provreg(env, "ingest", str(archive), "--json").stdout)
    copied = next(line["sha256"] for line in lines if line["path"].endswith("coffee-q50.jpg"))
    before = [
        v
        for v in json_lines(provreg(env, "show", copied, "--json").stdout)[0]["verdicts"]
        if v["detector"] == "copy"
    ]
    assert [v["label"] for v in before] == ["not-found"]

    ref = save_image(coffee, tmp_path / "bank" / "coffee.png")  # type: ignore[arg-type]
    added = provreg(env, "bank", "add", "art", str(ref), "--json")
    assert "1 new signed verdict(s)" in added.stderr
    (match,) = json_lines(provreg(env, "bank", "matches", "art", "--json").stdout)
    assert match["asset_sha256"] == copied and match["bank_generation"] == 1
    assert match["distance"] <= 31 and not match["withdrawn"]

    shown = json_lines(provreg(env, "show", copied, "--json").stdout)[0]["verdicts"]
    (retro,) = [v for v in shown if v["version"] == RETRO_VERSION]
    assert retro["label"] == "copy" and retro["positive"] and retro["signature"]
    assert retro["evidence"]["bank"] == "art"
    assert retro["evidence"]["reference_sha256"] == json_lines(added.stdout)[0]["sha256"]

    again = provreg(env, "bank", "retro-match", "art")
    assert "0 new signed verdict(s)" in again.stderr

    provreg(env, "bank", "remove", "art", json_lines(added.stdout)[0]["sha256"])
    (match,) = json_lines(provreg(env, "bank", "matches", "art", "--json").stdout)
    assert match["withdrawn"] and match["withdrawn_log_index"] > match["log_index"]
    shown = json_lines(provreg(env, "show", copied, "--json").stdout)[0]["verdicts"]
    labels = sorted(v["label"] for v in shown if v["version"] == RETRO_VERSION)
    assert labels == ["copy", "withdrawn"]
    again = provreg(env, "bank", "retro-match", "art")  # nothing left to find or withdraw
    assert "withdrew" not in again.stderr
    shown = json_lines(provreg(env, "show", copied, "--json").stdout)[0]["verdicts"]
    assert len([v for v in shown if v["version"] == RETRO_VERSION]) == 2
    assert provreg(env, "verify").returncode == 0
