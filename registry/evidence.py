"""Evidence bundles: a zip a third party can check with only Python and ``cryptography``.

Layout of the zip (``<sha256>`` is the asset's)::

    README.md                 what is inside and how to check it
    standalone_verify.py      a copy of registry/standalone_verify.py
    manifest.json             asset facts, entries, key ids, the checkpoint's size and root
    checkpoint.txt            the signed checkpoint (C2SP signed note) the proofs lead to
    keys/<key_id>.pub         each public key, base64 raw Ed25519 (checkpoint key: its name too)
    verdicts/<index>.json     each verdict's canonical (RFC 8785) signed bytes, exactly
    signatures/<index>.sig    each verdict's Ed25519 signature, base64
    proofs/<index>.json       one proof object per verdict (registry.proofs.inclusion_bundle)

``python standalone_verify.py proofs/`` checks every proof; the README gives the command that
pins the registry's keys as well.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from sqlalchemy.orm import Session

from registry.errors import ProofError
from registry.ledger import latest_checkpoint
from registry.proofs import inclusion_bundle
from registry.queries import asset_story
from registry.signing import StoredKey

README = """# provreg evidence bundle

Asset: `{sha256}`
Exported: {exported} by {exported_by}
Verdicts: {count} (log indexes {indexes})
Checkpoint: tree size {tree_size}, signed by `{key_name}`
{uncovered}
## Check it

Needs Python 3.9+ and the `cryptography` package (`pip install cryptography`), nothing else:

    python standalone_verify.py proofs/

Every line must read `OK`; the exit status is 0 only if every proof holds. That shows each
verdict is signed by the key in its proof and included in the signed checkpoint. To show it
comes from this registry, pin the registry's published keys:

    python standalone_verify.py {pins} proofs/

## Files

- `verdicts/<log_index>.json`: the exact signed bytes of each verdict (RFC 8785 canonical JSON);
- `signatures/<log_index>.sig`: its Ed25519 signature (base64);
- `proofs/<log_index>.json`: entry, signature, public key, RFC 9162 inclusion proof, checkpoint;
- `checkpoint.txt`: the signed checkpoint (c2sp.org/signed-note, c2sp.org/tlog-checkpoint);
- `keys/`: the public keys (base64 raw Ed25519; key id = hex SHA-256 of the key);
- `manifest.json`: what was exported, by whom and when.
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def standalone_verifier_source() -> bytes:
    """The bytes of ``registry/standalone_verify.py`` (copied into every bundle)."""
    return resources.files("registry").joinpath("standalone_verify.py").read_bytes()


def build_evidence_bundle(
    session: Session,
    sha256: str,
    *,
    key_name: str,
    trusted_keys: Sequence[StoredKey],
    exported_by: str,
) -> bytes:
    """The zip for every verdict about ``sha256`` covered by the latest checkpoint.

    Raises :class:`ProofError` if the asset is unknown or no checkpoint covers any verdict.
    """
    story = asset_story(session, sha256)
    if story is None:
        raise ProofError(f"unknown asset {sha256}")
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        raise ProofError("no signed checkpoint yet: run `provreg checkpoint`")
    covered = [v for v in story.verdicts if v.log_index < checkpoint.tree_size]
    uncovered = [int(v.log_index) for v in story.verdicts if v.log_index >= checkpoint.tree_size]
    if not covered:
        raise ProofError(f"no verdict about {sha256} is covered by a checkpoint yet")
    buffer = io.BytesIO()
    keys: dict[str, str] = {}
    entries: list[dict[str, Any]] = []
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for row in covered:
            index = int(row.log_index)
            proof = inclusion_bundle(session, index, checkpoint, key_name)
            bundle.writestr(f"verdicts/{index}.json", bytes(row.canonical))
            bundle.writestr(f"signatures/{index}.sig", _b64(bytes(row.signature)) + "\n")
            bundle.writestr(f"proofs/{index}.json", json.dumps(proof, indent=2) + "\n")
            keys[row.key_id] = proof["public_key"]
            keys[checkpoint.key_id] = proof["checkpoint_public_key"]
            entries.append({
                "log_index": index, "detector": row.detector, "version": row.version,
                "label": row.label, "positive": row.positive, "key_id": row.key_id,
            })
        for key_id, public in sorted(keys.items()):
            bundle.writestr(f"keys/{key_id}.pub", public + "\n")
        bundle.writestr("checkpoint.txt", checkpoint.note)
        bundle.writestr("standalone_verify.py", standalone_verifier_source())
        exported = datetime.now(UTC).isoformat(timespec="seconds")
        manifest = {
            "asset": {"sha256": story.asset.sha256, "media_type": story.asset.media_type,
                      "size_bytes": story.asset.size_bytes},
            "exported_at": exported, "exported_by": exported_by,
            "checkpoint": {"tree_size": int(checkpoint.tree_size),
                           "root_hash": bytes(checkpoint.root_hash).hex(),
                           "key_id": checkpoint.key_id, "key_name": key_name},
            "entries": entries, "not_yet_checkpointed": uncovered,
        }
        bundle.writestr("manifest.json", json.dumps(manifest, indent=2) + "\n")
        pins = " ".join(
            [f"--log-key {key_name}={_b64(k.public_key)}"
             for k in trusted_keys if k.key_id == checkpoint.key_id]
            + [f"--key-id {k.key_id}" for k in trusted_keys]
        )
        bundle.writestr("README.md", README.format(
            sha256=story.asset.sha256, exported=exported, exported_by=exported_by,
            count=len(covered), indexes=", ".join(str(e["log_index"]) for e in entries),
            tree_size=checkpoint.tree_size, key_name=key_name, pins=pins,
            uncovered=(f"Not yet in a checkpoint (left out): {uncovered}\n" if uncovered else ""),
        ))
    return buffer.getvalue()
