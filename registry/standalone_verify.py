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
extra file fails; this program itself is the one file it cannot vouch for.

It prints one line per entry (``OK`` or ``FAIL`` with every check that failed) and exits 0
only if every entry passed, 1 otherwise (2 for bad usage).

The keys inside a proof file only show that the file is self-consistent. To show it comes from
a particular registry, pin its keys: ``--log-key NAME=KEY`` (hex or base64) for the checkpoint
key and ``--key-id HEX`` for verdict signing keys (both repeatable).

This file deliberately imports nothing from the ``registry`` package and needs only the Python
standard library and ``cryptography``: it is copied into evidence bundles so that a third party
can check them without installing provreg, and a verifier should be small enough to read in
one sitting. The few hash and verification lines it shares with ``registry.merkle`` and
``registry.checkpoint`` are duplicated on purpose; the test suite runs both on the same data.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FIELDS = (
    "entry",
    "signature",
    "key_id",
    "public_key",
    "log_index",
    "tree_size",
    "inclusion_proof",
    "checkpoint",
    "checkpoint_public_key",
    "checkpoint_key_name",
)


class Failure(Exception):
    """One check that did not pass."""


def b64(value: Any, what: str) -> bytes:
    """Strict standard base64 of a JSON string."""
    if not isinstance(value, str):
        raise Failure(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise Failure(f"{what} is not valid base64") from exc


def count(value: Any, what: str) -> int:
    """A non-negative JSON integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Failure(f"{what} is not a non-negative integer")
    return value


def ed25519_verify(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``data``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- RFC 9162 (duplicated from registry.merkle on purpose) ---------------------------------


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    """RFC 9162 §2.1.3.2; raises :class:`Failure`."""
    if index >= size:
        raise Failure(f"log_index {index} is not below tree_size {size}")
    if any(len(p) != 32 for p in proof) or len(root) != 32:
        raise Failure("inclusion proof hashes must be 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise Failure("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Failure("inclusion proof is too short")
    if not hmac.compare_digest(r, root):
        raise Failure("inclusion proof does not lead to the checkpoint root")


def verify_consistency(size1: int, size2: int, proof: list[bytes], root1: bytes,
                       root2: bytes) -> None:
    """RFC 9162 §2.1.4.2 (with the equal-size and empty-tree cases); raises :class:`Failure`."""
    if any(len(p) != 32 for p in proof) or len(root1) != 32 or len(root2) != 32:
        raise Failure("consistency proof hashes must be 32 bytes")
    if size1 > size2:
        raise Failure(f"old size {size1} exceeds new size {size2}")
    if size1 == size2 or size1 == 0:
        if proof:
            raise Failure("consistency proof must be empty for these sizes")
        if size1 == size2 and not hmac.compare_digest(root1, root2):
            raise Failure("equal tree sizes with different roots")
        if size1 == 0 and root1 != hashlib.sha256(b"").digest():
            raise Failure("the empty tree's root must be SHA-256 of nothing")
        return
    if not proof:
        raise Failure("consistency proof is empty")
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise Failure("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise Failure("consistency proof is too short")
    if not hmac.compare_digest(fr, root1):
        raise Failure(f"consistency proof does not lead to the old root (size {size1})")
    if not hmac.compare_digest(sr, root2):
        raise Failure(f"consistency proof does not lead to the new root (size {size2})")


# --- C2SP signed-note checkpoint (duplicated from registry.checkpoint on purpose) ------------


def note_key_hash(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n\x01" + public_key).digest()[:4]


def verify_checkpoint(note: Any, name: str, public_key: bytes) -> tuple[int, bytes]:
    """Check the note's signature by ``name``/``public_key``; return (tree size, root)."""
    if not isinstance(note, str) or not note.endswith("\n"):
        raise Failure("checkpoint is not a note ending in a newline")
    if any(ord(ch) < 0x20 and ch != "\n" for ch in note):
        raise Failure("checkpoint contains a control character")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise Failure("checkpoint has no blank line before its signatures")
    text, lines = note[: cut + 1], note[cut + 2 : -1].split("\n")
    want = note_key_hash(name, public_key)
    verified = False
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014":
            raise Failure("checkpoint has a malformed signature line")
        blob = b64(parts[2], "checkpoint signature")
        if parts[1] != name or blob[:4] != want:
            continue  # someone else's signature (a witness, an old key): ignored per the spec
        if not ed25519_verify(public_key, blob[4:], text.encode()):
            raise Failure(f"checkpoint signature by {name} does not verify")
        verified = True
    if not verified:
        raise Failure(f"checkpoint carries no signature by {name} with the given key")
    body = text[:-1].split("\n")
    if len(body) < 3 or not body[0] or any(not line for line in body):
        raise Failure("checkpoint body is not origin, size, root hash")
    size_text = body[1]
    if (
        not size_text.isascii()
        or not size_text.isdigit()
        or (size_text != "0" and size_text[0] == "0")
    ):
        raise Failure("checkpoint tree size is not a canonical decimal")
    root = b64(body[2], "checkpoint root hash")
    if len(root) != 32:
        raise Failure("checkpoint root hash is not 32 bytes")
    return int(size_text), root


# --- one entry -------------------------------------------------------------------------------


def check_entry(
    obj: Any, log_keys: dict[str, bytes] | None = None, key_ids: set[str] | None = None
) -> list[str]:
    """Every failed check for one proof object (empty when it all holds)."""
    if not isinstance(obj, dict):
        return ["proof is not a JSON object"]
    missing = [f for f in FIELDS if f not in obj]
    if missing:
        return [f"missing field(s): {', '.join(missing)}"]
    problems: list[str] = []

    def attempt(check: Any) -> Any:
        try:
            return check()
        except Failure as exc:
            problems.append(str(exc))
            return None

    entry = attempt(lambda: b64(obj["entry"], "entry"))
    public_key = attempt(lambda: b64(obj["public_key"], "public_key"))
    signature = attempt(lambda: b64(obj["signature"], "signature"))
    if public_key is not None:
        if not isinstance(obj["key_id"], str) or not hmac.compare_digest(
            obj["key_id"].lower(), hashlib.sha256(public_key).hexdigest()
        ):
            problems.append("key_id is not the SHA-256 of public_key")
        elif key_ids is not None and obj["key_id"].lower() not in key_ids:
            problems.append(f"key_id {obj['key_id']} is not one of the pinned --key-id values")
        if (
            entry is not None
            and signature is not None
            and not ed25519_verify(public_key, signature, entry)
        ):
            problems.append("entry signature does not verify")

    name = obj["checkpoint_key_name"]
    log_key = attempt(lambda: b64(obj["checkpoint_public_key"], "checkpoint_public_key"))
    if log_keys is not None and isinstance(name, str) and log_key is not None:
        pinned = log_keys.get(name)
        if pinned is None or not hmac.compare_digest(pinned, log_key):
            problems.append(f"checkpoint key {name} is not the pinned --log-key")
    head = None
    if isinstance(name, str) and log_key is not None:
        head = attempt(lambda: verify_checkpoint(obj["checkpoint"], name, log_key))
    elif not isinstance(name, str):
        problems.append("checkpoint_key_name is not a string")

    index = attempt(lambda: count(obj["log_index"], "log_index"))
    size = attempt(lambda: count(obj["tree_size"], "tree_size"))
    proof_field = obj["inclusion_proof"]
    proof: Any = None
    if isinstance(proof_field, list):
        proof = attempt(lambda: [b64(p, "inclusion_proof element") for p in proof_field])
    else:
        problems.append("inclusion_proof is not a list")
    if head is not None and size is not None and head[0] != size:
        problems.append(f"tree_size {size} does not match the checkpoint's {head[0]}")
    elif head is not None and None not in (entry, index, size, proof):
        attempt(lambda: verify_inclusion(leaf_hash(entry), index, size, proof, head[1]))
    return problems


CONSISTENCY_FIELDS = (
    "old_size", "new_size", "old_checkpoint", "new_checkpoint", "consistency_proof",
    "old_checkpoint_public_key", "checkpoint_public_key", "checkpoint_key_name",
)


def check_consistency(obj: dict[str, Any], log_keys: dict[str, bytes] | None = None) -> list[str]:
    """Every failed check for one consistency proof object (empty when it all holds)."""
    missing = [f for f in CONSISTENCY_FIELDS if f not in obj]
    if missing:
        return [f"missing field(s): {', '.join(missing)}"]
    problems: list[str] = []
    name = obj["checkpoint_key_name"]
    if not isinstance(name, str):
        return ["checkpoint_key_name is not a string"]
    heads = []
    for which in ("old", "new"):
        try:
            key_field = "checkpoint_public_key" if which == "new" else "old_checkpoint_public_key"
            key = b64(obj[key_field], key_field)
            if log_keys is not None and not hmac.compare_digest(log_keys.get(name, b""), key):
                raise Failure(f"{which} checkpoint key {name} is not the pinned --log-key")
            size, root = verify_checkpoint(obj[f"{which}_checkpoint"], name, key)
            if size != obj[f"{which}_size"]:
                raise Failure(f"{which}_size does not match the {which} checkpoint's {size}")
            heads.append((size, root))
        except Failure as exc:
            problems.append(f"{which} checkpoint: {exc}")
    try:
        if not isinstance(obj["consistency_proof"], list):
            raise Failure("consistency_proof is not a list")
        proof = [b64(p, "consistency_proof element") for p in obj["consistency_proof"]]
        if len(heads) == 2:
            (size1, root1), (size2, root2) = heads
            verify_consistency(size1, size2, proof, root1, root2)
    except Failure as exc:
        problems.append(str(exc))
    return problems


def check_object(
    obj: Any, log_keys: dict[str, bytes] | None = None, key_ids: set[str] | None = None
) -> list[str]:
    """Every failed check for one proof object of either kind."""
    if isinstance(obj, dict) and "consistency_proof" in obj:
        return check_consistency(obj, log_keys)
    return check_entry(obj, log_keys, key_ids)


def describe(obj: dict[str, Any]) -> str:
    """What an object that passed proves, in a few words."""
    if "consistency_proof" in obj:
        return f"tree of {obj['old_size']} is a prefix of tree of {obj['new_size']}"
    kind = obj.get("entry_type", "entry")
    return f"{kind} log_index {obj['log_index']} in tree of {obj['tree_size']}"


# --- evidence bundles ------------------------------------------------------------------------


def _text(value: Any) -> str:
    """Untrusted text for the README: JSON-quoted, so it can never become markup or lines."""
    return json.dumps(value, ensure_ascii=True)


def derived_files(proofs: list[dict[str, Any]], unsigned: Any) -> dict[str, bytes]:
    """Every file of an evidence bundle, rebuilt from its (verified) proofs.

    The bundle builder (registry/evidence.py) writes exactly these bytes; the verifier rebuilds
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
        if (proof["checkpoint"], proof["checkpoint_key_name"],
                proof["checkpoint_public_key"]) != (note, key_name, first["checkpoint_public_key"]):
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
            verdicts.append({name: record.get(name) for name in (
                "log_index", "detector", "version", "label", "positive", "score", "p_value",
                "error", "created_at", "key_id")})
        else:
            sightings.append({name: record.get(name) for name in (
                "log_index", "seen_at", "source", "location", "ingest_run_id", "key_id")})
    if len(assets) != 1:
        raise Failure("the entries are not all about one asset")
    for key_id, public in keys.items():
        files[f"keys/{key_id}.pub"] = (public + "\n").encode()
    manifest = {
        "asset_sha256": assets.pop(),
        "checkpoint": {"tree_size": tree_size, "root_hash": root.hex(), "key_name": key_name,
                       "key_id": hashlib.sha256(log_key).hexdigest()},
        "verdicts": verdicts, "sightings": sightings, "unsigned": unsigned,
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
        "# provreg evidence bundle", "",
        f"Asset: `{manifest['asset_sha256']}`",
        f"Checkpoint: tree size {cp['tree_size']}, root {cp['root_hash']}, signed by "
        f"{_text(cp['key_name'])}", "",
        "## What was signed", "",
        f"Verdicts ({len(manifest['verdicts'])}):",
    ]
    for v in manifest["verdicts"]:
        verdict = "positive" if v["positive"] else "negative"
        error = f", error {_text(v['error'])}" if v["error"] else ""
        lines.append(f"- [{v['log_index']}] {_text(v['detector'])} {_text(v['version'])}: "
                     f"label {_text(v['label'])} ({verdict}{error}), signed {v['created_at']}")
    lines.append(f"Sightings ({len(manifest['sightings'])}):")
    for s in manifest["sightings"]:
        lines.append(f"- [{s['log_index']}] seen {s['seen_at']} at {_text(s['location'])} "
                     f"(source {_text(s['source'])}, ingest run {s['ingest_run_id']})")
    lines += ["", "## Not signed", "",
              "The manifest's `unsigned` section, shown as stored:",
              f"    {_text(manifest['unsigned'])}", ""]
    pins = " ".join(
        [f"--log-key {cp['key_name']}={base64.b64encode(log_key).decode()}"]
        + [f"--key-id {key_id}" for key_id in
           sorted({v["key_id"] for v in manifest["verdicts"] + manifest["sightings"]})]
    )
    return "\n".join(lines) + "\n" + README_CHECK.format(pins=pins)


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
        for path in sorted(root.rglob("*")) if path.is_file() or path.is_symlink()
    }
    present.pop("standalone_verify.py", None)  # this program: the one file it cannot vouch for
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


ED25519_PUBLIC_KEY_BYTES = 32


def parse_public_key(encoded: str) -> tuple[bytes, str]:
    """A raw Ed25519 public key written in hex or base64, and which encoding it was.

    ``provreg keys list`` and the ``.pub`` files show hex, proof bundles carry base64; both
    are accepted, optionally prefixed ``hex:`` or ``base64:``. The two cannot be confused for
    a 32-byte key: hex spells it in 64 characters, base64 in 44 ending with ``=``.
    """
    prefix, sep, rest = encoded.partition(":")
    wanted = prefix.lower() if sep and prefix.lower() in ("hex", "base64") else None
    body = rest if wanted else encoded
    attempts = [wanted] if wanted else (
        ["hex"] if len(body) == 2 * ED25519_PUBLIC_KEY_BYTES else ["base64"])
    for encoding in attempts:
        try:
            raw = bytes.fromhex(body) if encoding == "hex" else base64.b64decode(
                body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"public key is not valid {encoding}") from exc
        if len(raw) != ED25519_PUBLIC_KEY_BYTES:
            raise argparse.ArgumentTypeError(
                f"public key is {len(raw)} bytes as {encoding}; an Ed25519 key is 32 "
                "(give it in hex, 64 characters, or base64, 44 characters)")
        return raw, encoding
    raise argparse.ArgumentTypeError("public key is neither hex nor base64")


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
        print("note: keys were taken from the proof files; pin them with --log-key NAME=KEY "
              "(hex or base64) / --key-id")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
