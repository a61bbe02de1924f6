"""The `provreg` command line.

Exit codes (registry/cli/errors.py): 0 success; 1 verification failed (tamper found, proof
does not hold); 2 usage, configuration or operational error (database unreachable, unknown
asset); 3 ``ingest --strict`` with files that could not be judged. Every reporting command
takes ``--json`` (one JSON object per line).

Start-up matters (``provreg --help`` under a second): this module imports only click and the
settings; each command imports what it needs, and subcommands kept elsewhere load lazily.
The built-in commands live one module per group (``cli_ingest``: ingest, show;
``cli_ledger``: verify, checkpoint, proof, consistency, keys), each as light as this one.
"""

from __future__ import annotations

import os
import sys

import click

from registry.cli.context import Context
from registry.cli.errors import EXIT_ERROR, EXIT_VERIFY_FAILED, fail
from registry.cli.ingest import ingest, show
from registry.cli.lazy import LazyGroup
from registry.cli.ledger import checkpoint, consistency, keys, proof, verify
from registry.json_lines import entry_json, outcome_json
from registry.settings import Settings

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

__all__ = [
    "EXIT_ERROR",
    "EXIT_VERIFY_FAILED",
    "Context",
    "entry_json",
    "main",
    "outcome_json",
    "run",
]

LAZY_COMMANDS = {
    "bank": "registry.cli.banks:bank",
    "search": "registry.cli.banks:search",
    "users": "registry.cli.users:users",
}
"""Built-in subcommands kept in their own modules, imported when invoked."""

SUMMARIES = {
    "bank": "Reference banks for copy detection (stored in PostgreSQL, indexed under "
    "PROVREG_HOME).",
    "search": "Copy-detection candidates for each IMAGE, ranked (matches first, then distance).",
    "users": "Dashboard users and roles (viewer, investigator, admin).",
    "dashboard": "Start the investigator dashboard (Streamlit) against the configured database.",
    "rescan": "Re-run detectors (new version or model) over the archive; report what changed.",
    "status": "Recent ingest runs and re-scans (with progress) and per-detector verdict counts.",
    "serve": "Serve online ingestion over HTTP on Ray Serve: POST a file, get its signed verdicts.",
    "ray": "A local Ray cluster that every later Ray command attaches to (saves Ray's start-up).",
    "watermark": "Watermark marks (secret payloads) and learned decoders the detector looks for.",
    "models": "The weight store for learned detectors ($PROVREG_HOME/models).",
    "train": "Train learned detectors on labelled folders and store them with a model card.",
    "lineage": "Registered models that model uploads are traced to, and owners' weight-watermark "
    "keys.",
    "generator": "Generators enrolled for open-set attribution (fingerprints, calibration).",
    "eval": "Robustness benchmark: attack a corpus, run detectors, write a report.",
    "media": "The media store: originals and thumbnails of ingested assets.",
}
"""``--help`` summaries of lazy commands, so listing them imports nothing (a test pins them)."""


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, summaries=SUMMARIES)
@click.version_option(package_name="provreg", prog_name="provreg")
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Show Ray's own log lines on the terminal (default: a file in PROVREG_HOME/logs).",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default=None,
    help="Show Ray's own log lines on the terminal from this level up.",
)
@click.pass_context
def main(ctx: click.Context, verbose: bool, log_level: str | None) -> None:
    """provreg: provenance registry with forensic detectors and a signed, tamper-evident ledger."""
    if verbose or log_level:
        os.environ["PROVREG_LOG_LEVEL"] = (log_level or "INFO").upper()
    ctx.obj = Context(Settings.from_env())


@main.command()
@click.pass_obj
def init(obj: Context) -> None:
    """Create or upgrade the schema and create a signing key if none exists."""
    registry = obj.registry(migrate=True)
    with registry.sessions.begin() as session:
        registry.ledger.register_key(session)
    click.echo(f"schema at head; signing key {registry.signer.key_id}")


for _command in (ingest, show, verify, checkpoint, proof, consistency, keys):
    main.add_command(_command)


def run() -> None:
    """Entry point: run the command line, turning every error into its exit code and one line."""
    try:
        code = main(standalone_mode=False)
    except BaseException as exc:  # the one place errors become exit codes
        fail(exc)
    # Outside standalone mode click returns ctx.exit()'s code (--help, --version) instead.
    if isinstance(code, int) and code:
        sys.exit(code)
