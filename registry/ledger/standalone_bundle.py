"""Evidence bundles as the standalone verifier rebuilds them: every file from the verified
proofs (``derived_files``), the README included.

Part of the standalone verifier (``standalone_verify.py``): standard library, ``cryptography``
and its sibling ``standalone_merkle.py`` only. ``registry/ledger/evidence.py`` writes exactly these
bytes; the verifier rebuilds them and compares.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

try:  # inside provreg: registry.ledger.standalone_merkle
    from .standalone_merkle import Failure, b64, verify_checkpoint
except ImportError:  # run from a copy (an evidence bundle): the sibling file next to this one
    from standalone_merkle import (  # type: ignore[import-not-found,no-redef]
        Failure,
        b64,
        verify_checkpoint,
    )


def _text(value: Any) -> str:
    """Untrusted text for the README: JSON-quoted, so it can never become markup or lines."""
    return json.dumps(value, ensure_ascii=True)


def derived_files(proofs: list[dict[str, Any]], unsigned: Any) -> dict[str, bytes]:
    """Every file of an evidence bundle, rebuilt from its (verified) proofs.

    The bundle builder (registry/ledger/evidence.py) writes exactly these bytes; the verifier
    rebuilds
    them and compares. ``unsigned`` is the manifest's one unsigned section (who exported it).
    """
    if not proofs:
        raise Failure("the bundle holds no proofs")
    first = proofs[0]
    note, key_name = first["checkpoint"], first["checkpoint_key_name"]
    log_key = b64(first["checkpoint_public_key"], "checkpoint_public_key")
    tree_size, root = verify_checkpoint(note, key_name, log_key)
    files: dict[str, bytes] = {"checkpoint.txt": note.encode()}
    keys = {hashlib.sha256(log_key).hexdigest(): first["checkpoint_public_key"]}
    verdicts, sightings, assets = [], [], set()
    for proof in sorted(proofs, key=lambda p: p["log_index"]):
        if (proof["checkpoint"], proof["checkpoint_key_name"], proof["checkpoint_public_key"]) != (
            note,
            key_name,
            first["checkpoint_public_key"],
        ):
            raise Failure("the proofs do not all lead to the same checkpoint")
        index, kind = proof["log_index"], proof.get("entry_type", "verdict")
        entry = b64(proof["entry"], "entry")
        try:
            record = json.loads(entry)
        except ValueError as exc:
            raise Failure(f"entry {index} is not JSON") from exc
        if not isinstance(record, dict) or record.get("log_index") != index:
            raise Failure(f"entry {index} is not a record signed for log index {index}")
        assets.add(record.get("asset_sha256"))
        folder = {"verdict": "verdicts", "sighting": "sightings"}.get(kind)
        if folder is None:
            raise Failure(f"entry {index} has an unknown entry_type {kind!r}")
        files[f"{folder}/{index}.json"] = entry
        files[f"signatures/{index}.sig"] = (proof["signature"] + "\n").encode()
        files[f"proofs/{index}.json"] = (json.dumps(proof, indent=2) + "\n").encode()
        keys[proof["key_id"]] = proof["public_key"]
        if kind == "verdict":
            verdicts.append(
                {
                    name: record.get(name)
                    for name in (
                        "log_index",
                        "detector",
                        "version",
                        "label",
                        "positive",
                        "score",
                        "p_value",
                        "error",
                        "created_at",
                        "key_id",
                    )
                }
            )
        else:
            sightings.append(
                {
                    name: record.get(name)
                    for name in (
                        "log_index",
                        "seen_at",
                        "source",
                        "location",
                        "ingest_run_id",
                        "key_id",
                    )
                }
            )
    if len(assets) != 1:
        raise Failure("the entries are not all about one asset")
    for key_id, public in keys.items():
        files[f"keys/{key_id}.pub"] = (public + "\n").encode()
    manifest = {
        "asset_sha256": assets.pop(),
        "checkpoint": {
            "tree_size": tree_size,
            "root_hash": root.hex(),
            "key_name": key_name,
            "key_id": hashlib.sha256(log_key).hexdigest(),
        },
        "verdicts": verdicts,
        "sightings": sightings,
        "unsigned": unsigned,
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2) + "\n").encode()
    files["README.md"] = render_readme(manifest, log_key).encode()
    return files


README_CHECK = """## Check it

Needs Python 3.9+ and the `cryptography` package (`pip install cryptography`), nothing else.
From this folder:

    python standalone_verify.py .

Every line must read `OK`; the exit status is 0 only if everything holds. That checks each
entry's signature and inclusion in the signed checkpoint, and that every file here (this
README included) says exactly what was signed. To show it comes from the registry, pin its
published keys (compare them with the ones the registry publishes):

    python standalone_verify.py {pins} .

Files: `verdicts/N.json` and `sightings/N.json` are the exact signed bytes (RFC 8785
canonical JSON) of log entry N; `signatures/N.sig` its Ed25519 signature; `proofs/N.json`
its RFC 9162 inclusion proof; `checkpoint.txt` the signed checkpoint (c2sp.org/signed-note);
`keys/` the public keys (key id = hex SHA-256 of the raw key); `manifest.json` a summary.
"""


def render_readme(manifest: dict[str, Any], log_key: bytes) -> str:
    """The README of a bundle, every fact in it taken from ``manifest``."""
    cp = manifest["checkpoint"]
    lines = [
        "# provreg evidence bundle",
        "",
        f"Asset: `{manifest['asset_sha256']}`",
        f"Checkpoint: tree size {cp['tree_size']}, root {cp['root_hash']}, signed by "
        f"{_text(cp['key_name'])}",
        "",
        "## What was signed",
        "",
        f"Verdicts ({len(manifest['verdicts'])}):",
    ]
    for v in manifest["verdicts"]:
        verdict = "positive" if v["positive"] else "negative"
        error = f", error {_text(v['error'])}" if v["error"] else ""
        lines.append(
            f"- [{v['log_index']}] {_text(v['detector'])} {_text(v['version'])}: "
            f"label {_text(v['label'])} ({verdict}{error}), signed {v['created_at']}"
        )
    lines.append(f"Sightings ({len(manifest['sightings'])}):")
    for s in manifest["sightings"]:
        lines.append(
            f"- [{s['log_index']}] seen {s['seen_at']} at {_text(s['location'])} "
            f"(source {_text(s['source'])}, ingest run {s['ingest_run_id']})"
        )
    lines += [
        "",
        "## Not signed",
        "",
        "The manifest's `unsigned` section, shown as stored:",
        f"    {_text(manifest['unsigned'])}",
        "",
    ]
    pins = " ".join(
        [f"--log-key {cp['key_name']}={base64.b64encode(log_key).decode()}"]
        + [
            f"--key-id {key_id}"
            for key_id in sorted(
                {v["key_id"] for v in manifest["verdicts"] + manifest["sightings"]}
            )
        ]
    )
    return "\n".join(lines) + "\n" + README_CHECK.format(pins=pins)
