#!/usr/bin/env python3
"""Verify provreg ledger proofs offline: ``python standalone_verify.py PATH [PATH ...]``.

Each PATH is a JSON file holding one proof object, a list of them, a directory of such
files, or the root of an evidence bundle (a directory with ``manifest.json``: see
"Evidence bundles" below). An inclusion proof object (what ``provreg proof --json`` emits)::

    {"entry": b64 canonical verdict bytes, "signature": b64, "key_id": hex,
     "public_key": b64 raw Ed25519, "log_index": n, "tree_size": n,
     "inclusion_proof": [b64, ...], "checkpoint": "<signed note text>",
     "checkpoint_public_key": b64 raw Ed25519, "checkpoint_key_name": str}

For every entry it checks that

1. ``key_id`` is the hex SHA-256 of ``public_key``;
2. ``signature`` is the Ed25519 signature of the entry bytes under ``public_key``;
3. the checkpoint is a C2SP signed note (c2sp.org/signed-note) carrying a valid Ed25519
   signature by ``checkpoint_key_name`` / ``checkpoint_public_key``;
4. ``tree_size`` equals the checkpoint's tree size (c2sp.org/tlog-checkpoint);
5. the RFC 9162 leaf hash SHA-256(0x00 || entry) is included at ``log_index`` in the tree
   whose root the checkpoint signs (RFC 9162 §2.1.3.2).

A consistency proof object (what ``provreg consistency --json`` emits) holds ``old_size``,
``new_size``, ``old_checkpoint``, ``new_checkpoint`` (signed notes), ``consistency_proof``
(base64 hashes), ``old_checkpoint_public_key``, ``checkpoint_public_key`` and
``checkpoint_key_name``; both notes must verify, carry those sizes, and the RFC 9162
consistency proof (§2.1.4.2) must show the old tree is a prefix of the new one.

Evidence bundles: on a bundle's root every file is checked, not only the proofs. Each proof
must hold, then every other file (``verdicts/N.json``, ``sightings/N.json``,
``signatures/N.sig``, ``keys/*.pub``, ``checkpoint.txt``, ``manifest.json``, ``README.md``)
is rebuilt from the verified signed bytes and must be byte for byte what the bundle holds.
The only text not derived from signatures is the manifest's ``unsigned`` section (who
exported the bundle and when), which the README shows under "Not signed". A missing or
extra file fails; this program's own four files are the ones it cannot vouch for.

It prints one line per entry (``OK`` or ``FAIL`` with every check that failed) and exits 0
only if every entry passed, 1 otherwise (2 for bad usage).

The keys inside a proof file only show that the file is self-consistent. To show it comes from
a particular registry, pin its keys: ``--log-key NAME=KEY`` (hex or base64) for the checkpoint
key and ``--key-id HEX`` for verdict signing keys (both repeatable).

The verifier is four files that import only each other, the Python standard library and
``cryptography``, never the ``registry`` package: this one (the checks per bundle, the
command line), ``standalone_checks.py`` (the checks per proof object),
``standalone_merkle.py`` (RFC 9162 proofs, signed-note checkpoints, Ed25519) and
``standalone_bundle.py`` (the bundle's files rebuilt from its proofs). All four are copied
into evidence bundles so that a third party can check them without installing provreg, and
a verifier should be small enough to read in one sitting.
The few hash and verification lines it shares with ``registry.ledger.merkle`` and
``registry.ledger.checkpoint`` are duplicated on purpose; the test suite runs both on the same data.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # inside provreg: registry.ledger.standalone_merkle, _bundle and _checks
    from .standalone_bundle import README_CHECK, derived_files, render_readme
    from .standalone_checks import (
        CONSISTENCY_FIELDS,
        FIELDS,
        check_consistency,
        check_entry,
        check_object,
        describe,
    )
    from .standalone_merkle import (
        Failure,
        b64,
        count,
        ed25519_verify,
        leaf_hash,
        node_hash,
        note_key_hash,
        parse_public_key,
        verify_checkpoint,
        verify_consistency,
        verify_inclusion,
    )
except ImportError:  # run as a script from a copy: the sibling files sit next to this one
    # Named explicitly: ``python -I`` (as an auditor may run it) leaves this folder off the path.
    # No __pycache__: in a bundle's root it would be an unexpected file in the checked folder.
    sys.dont_write_bytecode = True
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from standalone_bundle import (  # type: ignore[no-redef]
        README_CHECK,
        derived_files,
        render_readme,
    )
    from standalone_checks import (  # type: ignore[no-redef]
        CONSISTENCY_FIELDS,
        FIELDS,
        check_consistency,
        check_entry,
        check_object,
        describe,
    )
    from standalone_merkle import (  # type: ignore[no-redef]
        Failure,
        b64,
        count,
        ed25519_verify,
        leaf_hash,
        node_hash,
        note_key_hash,
        parse_public_key,
        verify_checkpoint,
        verify_consistency,
        verify_inclusion,
    )

VERIFIER_FILES = (
    "standalone_verify.py",
    "standalone_merkle.py",
    "standalone_bundle.py",
    "standalone_checks.py",
)
"""The verifier's own files: travel in every evidence bundle, the ones it cannot vouch for."""

__all__ = [
    "CONSISTENCY_FIELDS",
    "FIELDS",
    "README_CHECK",
    "VERIFIER_FILES",
    "Failure",
    "b64",
    "check_bundle",
    "check_consistency",
    "check_entry",
    "check_object",
    "count",
    "derived_files",
    "describe",
    "ed25519_verify",
    "leaf_hash",
    "load",
    "main",
    "node_hash",
    "note_key_hash",
    "parse_public_key",
    "render_readme",
    "results",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]

# --- evidence bundles ------------------------------------------------------------------------


def check_bundle(
    root: Path, log_keys: dict[str, bytes] | None, key_ids: set[str] | None
) -> Iterator[tuple[str, list[str], str]]:
    """(label, problems, what passed) for each proof of a bundle, then for its other files."""
    proofs: list[dict[str, Any]] = []
    all_ok = True
    for label, obj in load([root / "proofs"]):
        problems = [str(obj)] if isinstance(obj, Failure) else check_object(obj, log_keys, key_ids)
        all_ok = all_ok and not problems
        if not problems:
            proofs.append(obj)
        yield label, problems, "" if problems else describe(obj)
    if not all_ok:
        yield str(root), ["files not compared: a proof failed"], ""
        return
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        expected = derived_files(proofs, manifest.get("unsigned"))
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, KeyError, TypeError) as exc:
        yield str(root / "manifest.json"), [f"cannot read: {exc}"], ""
        return
    except Failure as exc:
        yield str(root), [str(exc)], ""
        return
    present = {
        path.relative_to(root).as_posix(): path
        for path in sorted(root.rglob("*"))
        if path.is_file() or path.is_symlink()
    }
    for own in VERIFIER_FILES:  # this program: the files it cannot vouch for
        present.pop(own, None)
    for name in sorted(set(expected) | set(present)):
        if name not in present:
            yield str(root / name), ["missing from the bundle"], ""
        elif name not in expected:
            yield str(root / name), ["not covered by any signature (unexpected file)"], ""
        elif present[name].is_symlink() or present[name].read_bytes() != expected[name]:
            yield str(root / name), ["differs from the signed bytes"], ""
        elif not name.startswith("proofs/"):
            yield str(root / name), [], "matches the signed bytes"


def load(paths: list[Path]) -> Iterator[tuple[str, Any]]:
    """(label, proof object) for every entry in the files and directories given."""
    for path in paths:
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        for file in files:
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                yield str(file), Failure(f"cannot read JSON: {exc}")
                continue
            if isinstance(data, list):
                for i, item in enumerate(data):
                    yield f"{file}[{i}]", item
            else:
                yield str(file), data


def _parse_log_key(text: str) -> tuple[str, bytes, str]:
    name, sep, encoded = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected NAME=PUBLIC_KEY (hex or base64)")
    raw, encoding = parse_public_key(encoded)
    return name, raw, encoding


def results(
    paths: list[Path], log_keys: dict[str, bytes] | None, key_ids: set[str] | None
) -> Iterator[tuple[str, list[str], str]]:
    """(label, problems, what passed) for everything under ``paths``."""
    for path in paths:
        if path.is_dir() and (path / "manifest.json").is_file():
            yield from check_bundle(path, log_keys, key_ids)
            continue
        for label, obj in load([path]):
            if isinstance(obj, Failure):
                yield label, [str(obj)], ""
                continue
            problems = check_object(obj, log_keys, key_ids)
            yield label, problems, "" if problems else describe(obj)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="proof JSON files or directories")
    parser.add_argument(
        "--log-key",
        action="append",
        type=_parse_log_key,
        default=None,
        help="pin a checkpoint key: NAME=KEY, KEY in hex (as `provreg keys list` and the "
        ".pub files show it) or base64 (as in proof files) (repeatable)",
    )
    parser.add_argument(
        "--key-id",
        action="append",
        default=None,
        help="pin a verdict signing key id, hex (repeatable)",
    )
    args = parser.parse_args(argv)
    log_keys = {name: raw for name, raw, _ in args.log_key} if args.log_key else None
    for name, _, encoding in args.log_key or []:
        print(f"note: --log-key {name}: read as {encoding}")
    key_ids = {k.lower() for k in args.key_id} if args.key_id else None
    seen = failed = 0
    for label, problems, passed in results(args.paths, log_keys, key_ids):
        seen += 1
        if problems:
            failed += 1
            print(f"FAIL {label}: {'; '.join(problems)}")
        else:
            print(f"OK   {label}: {passed}")
    if not seen:
        print("FAIL no proof entries found")
        return 1
    if log_keys is None and key_ids is None:
        print(
            "note: keys were taken from the proof files; pin them with --log-key NAME=KEY "
            "(hex or base64) / --key-id"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
