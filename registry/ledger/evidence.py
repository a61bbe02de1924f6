"""Evidence bundles: a zip a third party can check with only Python and ``cryptography``.

Layout of the zip::

    README.md                 what was signed, in words, and how to check it
    standalone_verify.py      copies of the standalone verifier's four files
    standalone_merkle.py      (registry/ledger/standalone_verify.py and the three it imports)
    standalone_bundle.py
    standalone_checks.py
    manifest.json             asset, checkpoint, verdicts and sightings; one ``unsigned`` section
    checkpoint.txt            the signed checkpoint (C2SP signed note) the proofs lead to
    keys/<key_id>.pub         each public key, base64 raw Ed25519
    verdicts/<index>.json     each verdict's canonical (RFC 8785) signed bytes, exactly
    sightings/<index>.json    each signed sighting's canonical signed bytes, exactly
    signatures/<index>.sig    each entry's Ed25519 signature, base64
    proofs/<index>.json       one inclusion proof per entry
                              (registry.ledger.proofs.inclusion_bundle)

Every file except the verifier's is built by ``standalone_verify.derived_files`` from the
proofs, so ``python standalone_verify.py .`` on the bundle's root rebuilds each one from the
verified signed bytes and fails on any difference (an edited label in ``verdicts/N.json``, a
changed line in the README, an added file). What is not signed (who exported it and when,
the asset's media type, sightings recorded before sightings were signed) sits in the
manifest's ``unsigned`` section and under "Not signed" in the README.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources

from sqlalchemy.orm import Session

from registry.errors import ProofError
from registry.ledger.proofs import inclusion_bundle
from registry.ledger.signing import StoredKey
from registry.ledger.standalone_verify import VERIFIER_FILES, Failure, derived_files
from registry.ledger.writer import latest_checkpoint
from registry.queries.reads import asset_story


def standalone_verifier_source(name: str = "standalone_verify.py") -> bytes:
    """The bytes of one of the standalone verifier's files (``VERIFIER_FILES``, copied into
    every bundle)."""
    return resources.files("registry.ledger").joinpath(name).read_bytes()


def build_evidence_bundle(
    session: Session,
    sha256: str,
    *,
    key_name: str,
    trusted_keys: Sequence[StoredKey],
    exported_by: str,
) -> bytes:
    """The zip for every verdict and signed sighting of ``sha256`` the latest checkpoint covers.

    Every file but the verifier's own is :func:`standalone_verify.derived_files` of the
    proofs, so the verifier can rebuild and compare each one. Raises :class:`ProofError` if
    the asset is unknown, no checkpoint covers any of its entries, or an entry is signed by a
    key outside ``trusted_keys``.
    """
    story = asset_story(session, sha256)
    if story is None:
        raise ProofError(f"unknown asset {sha256}")
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        raise ProofError("no signed checkpoint yet: run `provreg checkpoint`")
    size = int(checkpoint.tree_size)
    indexes = sorted(
        [int(v.log_index) for v in story.verdicts]
        + [int(s.log_index) for s in story.sightings if s.log_index is not None]
    )
    covered = [i for i in indexes if i < size]
    if not [v for v in story.verdicts if v.log_index < size]:
        raise ProofError(f"no verdict about {sha256} is covered by a checkpoint yet")
    proofs = [inclusion_bundle(session, index, checkpoint, key_name) for index in covered]
    trusted = {key.key_id for key in trusted_keys}
    for proof in proofs:
        for key_id in (proof["key_id"], checkpoint.key_id):
            if key_id not in trusted:
                raise ProofError(
                    f"log entry {proof['log_index']} is signed by untrusted key {key_id}"
                )
    unsigned = {
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "exported_by": exported_by,
        "media_type": story.asset.media_type,
        "size_bytes": story.asset.size_bytes,
        "not_yet_checkpointed": [i for i in indexes if i >= size],
        "legacy_unsigned_sightings": [
            {"seen_at": s.seen_at.isoformat(), "source": s.source, "location": s.location}
            for s in story.sightings
            if s.log_index is None
        ],
    }
    try:
        files = derived_files(proofs, unsigned)
    except Failure as exc:
        raise ProofError(f"cannot build a verifiable bundle: {exc}") from exc
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, data in sorted(files.items()):
            bundle.writestr(name, data)
        for name in VERIFIER_FILES:
            bundle.writestr(name, standalone_verifier_source(name))
    return buffer.getvalue()
