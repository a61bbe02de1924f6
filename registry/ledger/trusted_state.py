"""What ``provreg verify`` remembers between runs, so that a rolled-back or forked log fails.

A verifier that only looks at the database can be shown any history the database owner likes:
delete the last entries, their Merkle nodes and the checkpoints that covered them, and what is
left is a perfectly consistent shorter log. A transparency-log client defends by keeping the
last tree head it verified (its *trusted state*) and accepting a new one only with a
consistency proof from it. ``verify`` does the same with a small JSON file in
``PROVREG_HOME`` (or wherever ``--trusted-state`` points: better somewhere the database's
owner cannot write)::

    {"format": "provreg-trusted-state/v1", "origin": ..., "tree_size": n,
     "root_hash": b64, "checkpoint": "<latest signed checkpoint note verified, or null>",
     "verified_at": RFC 3339, "legacy_sightings": n}

On each run, after the full verification passed, the current log must

* not be smaller than the trusted size, and be consistent with the trusted root (an RFC 9162
  consistency proof from the stored nodes, checked with
  :func:`registry.ledger.merkle.verify_consistency`);
* still hold the trusted checkpoint (same size and root): deleting checkpoints is erasing
  signed history, even when no entry was touched;
* hold as many unsigned legacy sightings (recorded before migration 0005d) as last time: they
  cannot be verified, but a row added or removed among them since is caught;
* be consistent with every witness checkpoint given (``--witness FILE``: a signed note
  obtained out of band, from a monitor, a colleague's copy, a published ``checkpoint``).

Only then is the state moved forward, written atomically (temporary file, fsync, rename,
fsync of the folder) so a crash leaves the old state or the new one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from detectors.atomic import write_atomically
from registry.db.models import CheckpointRow
from registry.errors import (
    CheckpointError,
    ConfigurationError,
    LedgerIntegrityError,
    ProofError,
)
from registry.ledger import merkle
from registry.ledger.checkpoint import Checkpoint, verify_checkpoint
from registry.ledger.writer import fetch_nodes, latest_checkpoint

STATE_FORMAT = "provreg-trusted-state/v1"
STATE_FILE = "trusted_state.json"


@dataclass(frozen=True)
class TrustedState:
    """The last log state verify accepted."""

    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint: str | None
    verified_at: str
    legacy_sightings: int | None = None


def default_path(home: Path) -> Path:
    """Where the trusted state lives by default: ``$PROVREG_HOME/trusted_state.json``."""
    return home / STATE_FILE


def load_state(path: Path) -> TrustedState | None:
    """The stored state, None if there is none yet; a damaged file raises (fail closed)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(f"cannot read the trusted state {path}: {exc}") from exc
    try:
        data = json.loads(raw)
        if data.get("format") != STATE_FORMAT:
            raise ValueError(f"format is not {STATE_FORMAT}")
        size = data["tree_size"]
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError("tree_size is not a non-negative integer")
        root = base64.b64decode(data["root_hash"], validate=True)
        if len(root) != merkle.HASH_SIZE:
            raise ValueError("root_hash is not 32 bytes")
        note = data.get("checkpoint")
        if note is not None and not isinstance(note, str):
            raise ValueError("checkpoint is not a note")
        legacy = data.get("legacy_sightings")
        if legacy is not None and (isinstance(legacy, bool) or not isinstance(legacy, int)):
            raise ValueError("legacy_sightings is not an integer")
        return TrustedState(
            str(data["origin"]), size, root, note, str(data.get("verified_at")), legacy
        )
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise LedgerIntegrityError(None, f"trusted state {path} is damaged: {exc}") from exc


def save_state(path: Path, state: TrustedState) -> None:
    """Write ``state`` atomically and durably; ConfigurationError if it cannot be written."""
    try:
        _write_state(path, state)
    except OSError as exc:
        raise ConfigurationError(f"cannot write the trusted state {path}: {exc}") from exc


def _write_state(path: Path, state: TrustedState) -> None:
    data = {
        "format": STATE_FORMAT,
        "origin": state.origin,
        "tree_size": state.tree_size,
        "root_hash": base64.b64encode(state.root_hash).decode(),
        "checkpoint": state.checkpoint,
        "verified_at": state.verified_at,
        "legacy_sightings": state.legacy_sightings,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2) + "\n"
    write_atomically(path, lambda fh: fh.write(text.encode("utf-8")))


def check_consistent(
    session: Session, size: int, root: bytes, current_size: int, current_root: bytes, what: str
) -> None:
    """The current log (already fully verified) must extend the tree ``(size, root)``."""
    if size > current_size:
        raise LedgerIntegrityError(
            current_size,
            f"log rolled back: {what} vouches for {size} entries, only {current_size} now",
        )
    coordinates = merkle.consistency_proof_coordinates(size, current_size)
    nodes = fetch_nodes(session, merkle.flatten_coordinates(coordinates))
    try:
        proof = merkle.consistency_proof(size, current_size, nodes)
        merkle.verify_consistency(size, current_size, proof, root, current_root)
    except (ProofError, LedgerIntegrityError) as exc:
        raise LedgerIntegrityError(
            max(size - 1, 0), f"log forked: not consistent with {what} (size {size}): {exc}"
        ) from exc


def _checkpoint_still_stored(session: Session, checkpoint: Checkpoint) -> None:
    rows = session.scalars(
        select(CheckpointRow).where(CheckpointRow.tree_size == checkpoint.size)
    ).all()
    if not any(bytes(row.root_hash) == checkpoint.root_hash for row in rows):
        raise LedgerIntegrityError(
            None,
            f"checkpoint history rolled back: the checkpoint of size {checkpoint.size} "
            "verified last time is no longer stored",
        )


@dataclass(frozen=True)
class TrustReport:
    """What the trusted-state check compared against."""

    previous_size: int | None
    witnesses: tuple[int, ...]
    state: TrustedState


def read_witness(path: Path, vkeys: Sequence[str], origin: str) -> Checkpoint:
    """A checkpoint note obtained out of band, signed by one of ``vkeys`` for ``origin``."""
    try:
        note = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read witness checkpoint {path}: {exc}") from exc
    try:
        return verify_checkpoint(note, vkeys, origin)
    except CheckpointError as exc:
        raise CheckpointError(f"witness checkpoint {path}: {exc}") from exc


def enforce(
    session: Session,
    *,
    tree_size: int,
    root_hash: bytes,
    vkeys: Sequence[str],
    origin: str,
    state_path: Path,
    witnesses: Iterable[Path] = (),
    legacy_sightings: int | None = None,
) -> TrustReport:
    """Fail on rollback or fork against the trusted state and witnesses; return the new state.

    Call after :func:`registry.ledger.verify.verify_ledger` passed, in the same session, with its
    tree size and root. The caller saves the returned state (:func:`save_state`).
    """
    previous = load_state(state_path)
    if previous is not None:
        if previous.origin != origin:
            raise LedgerIntegrityError(
                None, f"trusted state {state_path} is for log {previous.origin!r}, not {origin!r}"
            )
        check_consistent(
            session,
            previous.tree_size,
            previous.root_hash,
            tree_size,
            root_hash,
            f"the trusted state of {previous.verified_at}",
        )
        if previous.checkpoint is not None:
            try:
                trusted_checkpoint = verify_checkpoint(previous.checkpoint, vkeys, origin)
            except CheckpointError as exc:
                raise LedgerIntegrityError(None, f"trusted checkpoint: {exc}") from exc
            _checkpoint_still_stored(session, trusted_checkpoint)
        if (
            previous.legacy_sightings is not None
            and legacy_sightings is not None
            and legacy_sightings != previous.legacy_sightings
        ):
            raise LedgerIntegrityError(
                None,
                f"unsigned legacy sightings changed: {previous.legacy_sightings} last time, "
                f"{legacy_sightings} now (new sightings are signed; old ones never change)",
            )
    seen = []
    for path in witnesses:
        witness = read_witness(path, vkeys, origin)
        check_consistent(
            session,
            witness.size,
            witness.root_hash,
            tree_size,
            root_hash,
            f"witness checkpoint {path}",
        )
        seen.append(witness.size)
    latest = latest_checkpoint(session)
    note = None
    if latest is not None:
        try:
            verify_checkpoint(latest.note, vkeys, origin)
            note = latest.note
        except CheckpointError:
            note = None  # verify_ledger already rejected bad notes; another origin is skipped
    if note is None and previous is not None and previous.checkpoint is not None:
        note = previous.checkpoint
    state = TrustedState(
        origin,
        tree_size,
        root_hash,
        note,
        datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        legacy_sightings,
    )
    return TrustReport(previous.tree_size if previous else None, tuple(seen), state)
