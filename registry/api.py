"""The public Python API: what the ``provreg`` commands do, as typed functions.

Import it from the package (``from registry import open_registry, show_asset``); the names
are listed in ``registry.__all__``. Every function takes an open :class:`~registry.app.Registry`
and returns plain frozen records (never ORM rows), or raises a
:class:`~registry.errors.ProvregError` (verification fails closed: it raises, never returns
False). The command line (``registry/cli/root.py``), the dashboard and ``ray_jobs`` read through
the same functions.

The names avoid the package's module names (``ingest``, ``verify``): a submodule, once
imported, would shadow a package attribute of the same name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import LedgerTamperedError, NotInitialisedError, UnknownAssetError
from registry.settings import Settings

if TYPE_CHECKING:
    from registry.app import Registry
    from registry.banks.search import Candidate
    from registry.ingest import FileOutcome
    from registry.ledger.integrity import IntegrityReport
    from registry.queries.assets import AssetView


def open_registry(settings: Settings | None = None, *, migrate: bool = False) -> Registry:
    """Connect to the registry ``settings`` name (default: from the environment).

    ``migrate`` applies the migrations first (what ``provreg init`` does); otherwise the
    schema must exist (:class:`~registry.errors.NotInitialisedError`). Call ``close()`` when
    done."""
    from registry.app import Registry

    registry = Registry.open(settings or Settings.from_env(), migrate=migrate)
    if not migrate and not registry.schema_ready():
        registry.close()
        raise NotInitialisedError("the database has no provreg schema yet")
    return registry


def ingest_files(
    registry: Registry,
    paths: Iterable[Path],
    *,
    source: str | None = None,
    detectors: Sequence[str] | None = None,
    executor: str | None = "inline",
    resume: int | None = None,
) -> Iterator[FileOutcome]:
    """Ingest files and folders (``provreg ingest``): one outcome per file, as it is written.

    ``detectors`` names the detectors to run (default: the configured ones); ``executor`` is
    ``inline`` (this process, the default here), ``ray`` or another registered executor
    (None: ``ray`` when registered). The run is finished and a checkpoint signed when the
    iterator is exhausted."""
    from registry.ingest import load_executor
    from registry.intake.pipeline import iter_media_paths

    files = list(iter_media_paths(paths))
    run = load_executor(executor)
    # Passed only when asked for: an executor plugin written before --resume still works.
    resume_kw = {} if resume is None else {"resume": resume}
    return run(registry, registry.detectors(detectors), files, source=source, **resume_kw)


def show_asset(registry: Registry, sha256: str) -> AssetView:
    """Everything known about one asset (``provreg show``): a full sha256 or a unique prefix.

    Raises :class:`~registry.errors.UnknownAssetError` when none or several assets match."""
    from registry.queries.assets import asset_view, resolve_asset

    with registry.sessions() as session:
        view = asset_view(session, resolve_asset(session, sha256))
    if view is None:
        raise UnknownAssetError(f"unknown asset {sha256}")
    return view


def check_asset(registry: Registry, sha256: str) -> IntegrityReport:
    """Each verdict about one asset checked against the local trusted keys: its signature and
    its inclusion in the latest signed checkpoint (the dashboard's integrity panel)."""
    from registry.queries.assets import asset_integrity

    with registry.sessions() as session:
        return asset_integrity(session, sha256, registry.verifier(), registry.checkpoint_vkeys())


@dataclass(frozen=True)
class LedgerCheck:
    """A ledger that verified (``provreg verify``): what the verification covered."""

    tree_size: int
    root_hash: bytes
    checkpoints: int
    latest_checkpoint_size: int | None
    trusted_size: int | None
    """The size of the last verified state this one is consistent with (None: first run)."""
    witness_sizes: tuple[int, ...]
    unsigned_legacy_sightings: int
    """Sightings recorded before sightings were signed (not verifiable)."""


def verify_ledger(
    registry: Registry,
    *,
    witnesses: Sequence[Path] = (),
    state_file: Path | None = None,
    max_errors: int = 100,
) -> LedgerCheck:
    """Check every signature, the Merkle log and every checkpoint, then consistency with the
    last verified state (``state_file``, default ``$PROVREG_HOME/trusted_state.json``) and
    each witness checkpoint; save the new state.

    Raises :class:`~registry.errors.LedgerTamperedError` listing every bad entry (up to
    ``max_errors``), or another :class:`~registry.errors.VerificationError` on rollback, fork
    or when no key is trusted."""
    from registry.ledger import trusted_state
    from registry.ledger.sighting_log import legacy_sightings
    from registry.ledger.verify import scan_ledger

    state_path = state_file or trusted_state.default_path(registry.settings.home)
    with registry.sessions() as session:
        vkeys = registry.checkpoint_vkeys()
        report = scan_ledger(session, registry.verifier(), vkeys, max_errors=max_errors)
        if report.errors:
            raise LedgerTamperedError(report.errors, truncated=report.truncated)
        legacy = legacy_sightings(session)
        trust = trusted_state.enforce(
            session,
            tree_size=report.tree_size,
            root_hash=report.root_hash,
            vkeys=vkeys,
            origin=registry.settings.log_origin,
            state_path=state_path,
            witnesses=witnesses,
            legacy_sightings=legacy,
        )
    trusted_state.save_state(state_path, trust.state)
    return LedgerCheck(
        tree_size=report.tree_size,
        root_hash=report.root_hash,
        checkpoints=report.checkpoints,
        latest_checkpoint_size=report.latest_checkpoint_size,
        trusted_size=trust.previous_size,
        witness_sizes=tuple(trust.witnesses),
        unsigned_legacy_sightings=legacy,
    )


@dataclass(frozen=True)
class Proof:
    """An inclusion proof bundle (``provreg proof``), checkable with the public key alone
    (``standalone_verify.py``)."""

    log_index: int
    tree_size: int
    bundle: dict[str, Any]
    """The bundle as JSON values (base64 strings, the signed checkpoint note)."""

    def to_json(self, *, indent: int | None = None) -> str:
        """The bundle as JSON text (compact unless ``indent``)."""
        separators = (",", ":") if indent is None else None
        return json.dumps(self.bundle, indent=indent, separators=separators)


def inclusion_proof(registry: Registry, log_index: int) -> Proof:
    """The proof that entry ``log_index`` is in the log, under the checkpoint covering it
    (signing one when the latest does not yet)."""
    from registry.ledger.proofs import covering_checkpoint, inclusion_bundle

    with registry.sessions.begin() as session:
        checkpoint_row = covering_checkpoint(session, registry.ledger, log_index)
        bundle = inclusion_bundle(session, log_index, checkpoint_row, registry.settings.key_name)
    return Proof(log_index, int(bundle["tree_size"]), bundle)


def search_copies(registry: Registry, image: Path | bytes, k: int = 10) -> list[Candidate]:
    """Copy-detection candidates for an image file or its bytes (``provreg search``), ranked:
    matches first, then by distance."""
    from registry.banks.search import search_image, search_path

    if isinstance(image, bytes):
        return search_image(registry.settings, image, k)
    return search_path(registry.settings, image, k)
