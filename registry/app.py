"""The services a provreg process uses, built once from Settings at the entry point."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import Engine, inspect
from sqlalchemy.orm import Session, sessionmaker

from detectors.base import Detector
from detectors.plugins import available_detectors, create_detectors
from registry.db.engine import make_engine, resolve_database_url, upgrade_schema
from registry.ledger.checkpoint import vkey
from registry.ledger.signing import KeyStore, Signer, Verifier
from registry.ledger.writer import Ledger
from registry.lineage.options import add_lineage
from registry.models.configure import add_models, default_names, store_for
from registry.models.watermark_keys import watermark_options
from registry.settings import Settings


@dataclass
class Registry:
    """Engine, sessions, keys and ledger for one process. Create with :meth:`open`."""

    settings: Settings
    url: str
    engine: Engine
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = False) -> Registry:
        """Connect (starting the embedded database if needed); optionally apply migrations."""
        url = resolve_database_url(settings)
        if migrate:
            upgrade_schema(url)
        return cls(settings=settings, url=url, engine=make_engine(url))

    def schema_ready(self) -> bool:
        """Whether the migrations have been applied."""
        return inspect(self.engine).has_table("verdicts")

    @cached_property
    def keystore(self) -> KeyStore:
        """Signing keys under PROVREG_HOME."""
        return KeyStore(self.settings.keys_dir)

    @cached_property
    def signer(self) -> Signer:
        """The active signer, creating a first key when none exists."""
        return self.keystore.ensure()

    @cached_property
    def ledger(self) -> Ledger:
        """The ledger writer signing with the active key."""
        return Ledger(self.signer, self.settings.log_origin)

    def verifier(self) -> Verifier:
        """A verifier trusting every key in the local key store (never the database's list)."""
        return self.keystore.verifier()

    def checkpoint_vkeys(self) -> list[str]:
        """Signed-note verifier keys for checkpoints, one per trusted key."""
        return [vkey(self.settings.key_name, key.public_key) for key in self.keystore.keys()]

    def detectors(self, names: Sequence[str] | None = None) -> list[Detector]:
        """The configured detectors (or ``names``), with their options from settings.

        When the ``copy`` detector is among them and the copy index lags the bank rows (an
        earlier bank operation could not save it), the index is rebuilt from PostgreSQL
        first (:func:`registry.banks.ops.catch_up`)."""
        wanted = list(names) if names else self.settings.detectors
        options = self.detector_options()
        if wanted is None:  # every registered one, less learned ones without weights
            wanted = default_names(available_detectors(), options)
        detectors = create_detectors(wanted, options)
        if any(detector.name == "copy" for detector in detectors):
            from registry.banks.ops import catch_up  # bank_ops imports this module

            catch_up(self)
        return detectors

    def detector_options(self) -> dict[str, dict[str, Any]]:
        """Options per detector from settings, plus registry defaults.

        The ``copy`` detector gets ``index_dir`` = the index the banks maintain
        (``$PROVREG_HOME/indexes/copy``) unless one is configured; per-bank PDQ thresholds
        travel inside that index's manifest. The ``watermark`` detector gets the marks and
        decoders registered with ``provreg watermark`` and their store.
        """
        options = {name: dict(opts) for name, opts in self.settings.detector_options.items()}
        options.setdefault("copy", {}).setdefault("index_dir", str(self.settings.copy_index_dir))
        # Registered watermark marks and decoders (registry.models.watermark_keys) join the
        # configured.
        marks = watermark_options(self.settings.home)
        if "payloads" in marks or "decoders" in marks:
            mark_options = options.setdefault("watermark", {})
            for key in ("payloads", "decoders"):
                if key in marks:
                    mark_options[key] = [*mark_options.get(key, []), *marks[key]]
        add_models(options, available_detectors, store_for(self.settings.home))
        add_lineage(options, self.sessions, self.settings.home)  # registry/lineage (issue 19)
        return options

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
