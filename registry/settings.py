"""The one typed settings object, built at the entry point and passed down.

Sources, later ones winning: built-in defaults, ``$PROVREG_HOME/config.toml`` (optional), and
the environment (``PROVREG_HOME``, ``PROVREG_DATABASE_URL``, ``RAY_ADDRESS``,
``PROVREG_DETECTORS``, ``PROVREG_DASHBOARD_DATABASE_URL``: the dashboard's own, read-only
role; see infra/postgres/roles.sql; ``PROVREG_DB_OUTAGE_S``: how long writers keep retrying a
database that went away before giving up with exit code 2). Nothing here runs at import time.

config.toml example::

    detectors = ["file-facts", "metadata", "watermark"]   # default: every registered one
    log_origin = "provreg.example.com/log"
    batch_size = 64
    db_outage_s = 300        # seconds every writer keeps retrying an unreachable database

    [limits]
    max_bytes = 67108864
    max_pixels = 64000000

    [detector_options.watermark]
    fpr_target = 1e-6
    time_budget_s = 10       # every detector: wall-clock and CPU seconds per file (0: off)
    cpu_budget_s = 5
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.errors import ConfigurationError
from registry.intake.pipeline import IntakeLimits

if TYPE_CHECKING:
    from registry.db.retry import RetryPolicy

DEFAULT_OUTAGE_S = 300.0
"""How long (seconds) every writer keeps retrying an unreachable database by default."""


@dataclass(frozen=True)
class Settings:
    """Everything a provreg process needs to know about its environment."""

    home: Path
    database_url: str | None = None
    ray_address: str | None = None
    log_origin: str = "provreg.local/log"
    detectors: tuple[str, ...] | None = None
    detector_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    limits: IntakeLimits = field(default_factory=IntakeLimits)
    batch_size: int = 64
    dashboard_database_url: str | None = None
    db_outage_s: float = DEFAULT_OUTAGE_S
    media: Mapping[str, Any] = field(default_factory=dict)
    """The ``[media]`` table of config.toml plus ``PROVREG_MEDIA_URL`` (docs/media.md)."""
    #: Where ``provreg eval run`` publishes its latest report (the dashboard shows it).
    eval_report_path: Path | None = None

    @property
    def eval_report_dir(self) -> Path:
        """The latest evaluation report: ``eval_report_dir`` in config.toml (or
        ``PROVREG_EVAL_REPORT_DIR``), else ``$PROVREG_HOME/eval/latest``."""
        return self.eval_report_path or self.home / "eval" / "latest"

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy every writer uses (:mod:`registry.db.retry`)."""
        from registry.db.retry import RetryPolicy  # sqlalchemy: kept off the CLI's start-up

        return RetryPolicy(outage_s=self.db_outage_s)

    @property
    def keys_dir(self) -> Path:
        """Where signing keys live."""
        return self.home / "keys"

    @property
    def embedded_pgdata(self) -> Path:
        """Data directory of the embedded PostgreSQL (used when no URL is configured)."""
        return self.home / "pgdata"

    @property
    def copy_index_dir(self) -> Path:
        """The copy-detection index: the ``copy`` detector's ``index_dir`` option if set,
        else ``$PROVREG_HOME/indexes/copy`` (maintained by ``provreg bank``)."""
        configured = self.detector_options.get("copy", {}).get("index_dir")
        return Path(str(configured)) if configured else self.home / "indexes" / "copy"

    @property
    def key_name(self) -> str:
        """The signer name written on checkpoint signature lines."""
        return self.log_origin

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from the environment and the optional config file."""
        env = os.environ if environ is None else environ
        home = Path(env.get("PROVREG_HOME") or Path.home() / ".provreg").expanduser()
        config = _read_config(home / "config.toml")
        detectors = env.get("PROVREG_DETECTORS") or config.get("detectors")
        if isinstance(detectors, str):
            detectors = [name.strip() for name in detectors.split(",") if name.strip()]
        limits_table = config.get("limits", {})
        try:
            limits = IntakeLimits(**limits_table)
        except TypeError as exc:
            raise ConfigurationError(f"bad [limits] in config.toml: {exc}") from exc
        options = config.get("detector_options", {})
        if not isinstance(options, dict):
            raise ConfigurationError("[detector_options] must be a table of tables")
        return cls(
            home=home,
            database_url=env.get("PROVREG_DATABASE_URL") or config.get("database_url") or None,
            ray_address=env.get("RAY_ADDRESS") or None,
            log_origin=str(config.get("log_origin", "provreg.local/log")),
            detectors=tuple(detectors) if detectors else None,
            detector_options=options,
            limits=limits,
            batch_size=int(config.get("batch_size", 64)),
            dashboard_database_url=env.get("PROVREG_DASHBOARD_DATABASE_URL")
            or config.get("dashboard_database_url")
            or None,
            db_outage_s=_outage(env.get("PROVREG_DB_OUTAGE_S") or config.get("db_outage_s")),
            media=_media(config.get("media", {}), env.get("PROVREG_MEDIA_URL")),
            eval_report_path=_optional_path(
                env.get("PROVREG_EVAL_REPORT_DIR") or config.get("eval_report_dir")
            ),
        )


def _optional_path(value: object) -> Path | None:
    return Path(str(value)).expanduser() if value else None


def _media(table: object, url: str | None) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigurationError("[media] in config.toml must be a table")
    return {**table, "url": url} if url else dict(table)


def _outage(value: object) -> float:
    if value is None:
        return DEFAULT_OUTAGE_S
    try:
        seconds = float(str(value))
    except ValueError as exc:
        raise ConfigurationError(f"db_outage_s must be a number of seconds, not {value!r}") from exc
    if not seconds >= 0:
        raise ConfigurationError(f"db_outage_s must be zero or more, not {value!r}")
    return seconds


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
