"""The standalone verifier's checks of one proof object: an inclusion or a consistency proof.

Part of the standalone verifier (``standalone_verify.py``): standard library, ``cryptography``
and its sibling ``standalone_merkle.py`` only.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

try:  # inside provreg: registry.ledger.standalone_merkle
    from .standalone_merkle import (
        Failure,
        b64,
        count,
        ed25519_verify,
        leaf_hash,
        verify_checkpoint,
        verify_consistency,
        verify_inclusion,
    )
except ImportError:  # run from a copy (an evidence bundle): the sibling file next to this one
    from standalone_merkle import (  # type: ignore[import-not-found,no-redef]
        Failure,
        b64,
        count,
        ed25519_verify,
        leaf_hash,
        verify_checkpoint,
        verify_consistency,
        verify_inclusion,
    )


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
    "old_size",
    "new_size",
    "old_checkpoint",
    "new_checkpoint",
    "consistency_proof",
    "old_checkpoint_public_key",
    "checkpoint_public_key",
    "checkpoint_key_name",
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
