#!/usr/bin/env python3
"""Follow a provreg log published as C2SP tlog-tiles: ``python standalone_monitor.py PREFIX``.

PREFIX is the published directory (``provreg checkpoint --publish DIR``) or its ``http(s)://``
address. With the log's public key alone (``--log-key NAME=BASE64``, as the registry
publishes it) the monitor

1. verifies the signature on ``<prefix>/checkpoint`` (c2sp.org/signed-note);
2. reads every entry bundle (``tile/entries/<N>[.p/<W>]``), hashes each entry to its RFC 9162
   leaf, checks it is a provreg record signed for its own log index, and checks the level-0
   tiles list exactly those leaf hashes;
3. rebuilds every higher tile from the level below (each hash is the Merkle tree hash of a
   full tile one level down) and compares it with the published tile;
4. rebuilds the root from the leaves and compares it with the checkpoint's;
5. compares with the checkpoint it accepted last time (``--state FILE``, default
   ``./monitor_state.json``): the log must not have shrunk, and the tree of the old size, as
   rebuilt from today's leaves, must have the old root (consistency; a rewritten or forked
   history fails here);
6. only then records the new checkpoint as its state (atomically).

It prints what it checked and exits 0 if everything holds, 1 on any failure, 2 on bad usage.
Each run audits the whole log (memory: 32 bytes per entry); tiles are immutable, so a
long-running monitor could keep its own copy and read only new ones, which this one, meant
to be read in one sitting, does not do.

Like ``standalone_verify.py`` (whose checkpoint and hash functions it reuses: keep it and
the three files it imports, ``standalone_merkle.py``, ``standalone_bundle.py`` and
``standalone_checks.py``, next to this one) it needs only Python and ``cryptography``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

try:
    from registry.ledger import standalone_verify as sv
except ImportError:  # copied next to standalone_verify.py, without provreg installed
    import standalone_verify as sv  # type: ignore[no-redef]

TILE_WIDTH = 256
HASH_SIZE = 32


class MonitorFailure(Exception):
    """The published log does not hold together."""


def encode_index(index: int) -> str:
    """Tile index as 3-digit path elements, all but the last prefixed ``x`` (1234067 ->
    ``x001/x234/067``)."""
    groups = []
    while True:
        groups.append(f"{index % 1000:03d}")
        index //= 1000
        if index == 0:
            break
    groups.reverse()
    return "/".join([f"x{g}" for g in groups[:-1]] + [groups[-1]])


def tile_name(level: str, index: int, width: int) -> str:
    """``tile/<level>/<N>[.p/<W>]`` (level is a number or ``entries``)."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{suffix}"


class Source:
    """Reads published files from a directory or over HTTP(S)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix.rstrip("/")
        self.remote = prefix.startswith(("http://", "https://"))

    def get(self, name: str) -> bytes:
        """The bytes of ``name``; MonitorFailure if it cannot be had."""
        try:
            if self.remote:
                with urllib.request.urlopen(f"{self.prefix}/{name}", timeout=60) as response:
                    return bytes(response.read())
            return (Path(self.prefix) / name).read_bytes()
        except (OSError, urllib.error.URLError) as exc:
            raise MonitorFailure(f"cannot read {name}: {exc}") from exc


def widths(size: int, level: int) -> list[tuple[int, int]]:
    """(index, width) of every tile at ``level`` of a tree of ``size`` leaves."""
    nodes = size >> (8 * level)
    found = [(i, TILE_WIDTH) for i in range(nodes // TILE_WIDTH)]
    if nodes % TILE_WIDTH:
        found.append((nodes // TILE_WIDTH, nodes % TILE_WIDTH))
    return found


def read_entries(source: Source, size: int) -> list[bytes]:
    """The leaf hash of every entry, from the entry bundles; each entry checked."""
    leaves: list[bytes] = []
    for index, width in widths(size, 0):
        name = tile_name("entries", index, width)
        data, offset, count = source.get(name), 0, 0
        while offset < len(data):
            if offset + 2 > len(data):
                raise MonitorFailure(f"{name}: truncated length prefix")
            length = int.from_bytes(data[offset : offset + 2], "big")
            entry = data[offset + 2 : offset + 2 + length]
            if len(entry) != length:
                raise MonitorFailure(f"{name}: truncated entry")
            position = index * TILE_WIDTH + count
            try:
                record = json.loads(entry)
            except ValueError as exc:
                raise MonitorFailure(f"{name}: entry {position} is not JSON") from exc
            if not isinstance(record, dict) or record.get("log_index") != position:
                raise MonitorFailure(f"{name}: entry {position} was not signed for that index")
            leaves.append(sv.leaf_hash(entry))
            offset += 2 + length
            count += 1
        if count != width:
            raise MonitorFailure(f"{name}: holds {count} entries, not {width}")
    return leaves


def subtree_hash(hashes: list[bytes]) -> bytes:
    """Merkle tree hash of a power-of-two run of node hashes."""
    while len(hashes) > 1:
        hashes = [sv.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def check_tiles(source: Source, size: int, leaves: list[bytes]) -> int:
    """Every tile must list the hashes rebuilt from the leaves; returns how many were read."""
    level_hashes, level, read = leaves, 0, 0
    while size >> (8 * level):
        for index, width in widths(size, level):
            name = tile_name(str(level), index, width)
            want = b"".join(level_hashes[index * TILE_WIDTH : index * TILE_WIDTH + width])
            if source.get(name) != want:
                raise MonitorFailure(f"{name}: hashes differ from those rebuilt from the entries")
            read += 1
        level_hashes = [
            subtree_hash(level_hashes[i : i + TILE_WIDTH])
            for i in range(0, len(level_hashes) - TILE_WIDTH + 1, TILE_WIDTH)
        ]
        level += 1
    return read


def root_of(leaves: list[bytes], size: int) -> bytes:
    """RFC 9162 root of the first ``size`` leaves (folding perfect subtrees, largest first)."""
    if size == 0:
        return hashlib.sha256(b"").digest()
    peaks: list[bytes] = []
    offset = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            peaks.append(subtree_hash(leaves[offset : offset + (1 << level)]))
            offset += 1 << level
    root = peaks[-1]
    for left in reversed(peaks[:-1]):
        root = sv.node_hash(left, root)
    return root


def load_state(path: Path) -> dict[str, Any] | None:
    """The checkpoint accepted last time, or None."""
    if not path.exists():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        int(state["tree_size"])
        bytes.fromhex(state["root_hash"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MonitorFailure(f"monitor state {path} is damaged: {exc}") from exc
    return dict(state)


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def monitor(source: Source, name: str, key: bytes, state_path: Path) -> list[str]:
    """Check the published log; return what was checked, raise MonitorFailure if anything fails."""
    note = source.get("checkpoint")
    try:
        size, root = sv.verify_checkpoint(note.decode("utf-8"), name, key)
    except (sv.Failure, UnicodeDecodeError) as exc:
        raise MonitorFailure(f"checkpoint: {exc}") from exc
    report = [f"checkpoint signed by {name}: {size} entries, root {root.hex()}"]
    leaves = read_entries(source, size)
    tiles = check_tiles(source, size, leaves)
    report.append(f"{size} entries hash to the {tiles} tiles")
    if root_of(leaves, size) != root:
        raise MonitorFailure("the root rebuilt from the tiles is not the checkpoint's")
    previous = load_state(state_path)
    if previous is not None:
        old_size, old_root = int(previous["tree_size"]), bytes.fromhex(previous["root_hash"])
        if size < old_size:
            raise MonitorFailure(f"log rolled back: {old_size} entries seen before, {size} now")
        if root_of(leaves, old_size) != old_root:
            raise MonitorFailure(f"log forked: the tree of {old_size} entries seen before differs")
        report.append(f"consistent with the checkpoint seen before ({old_size} entries)")
    save_state(
        state_path, {"tree_size": size, "root_hash": root.hex(), "checkpoint": note.decode("utf-8")}
    )
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("prefix", help="published directory or http(s):// prefix")
    parser.add_argument(
        "--log-key",
        required=True,
        type=sv._parse_log_key,
        help="the log's checkpoint key: NAME=PUBLIC_KEY (hex or base64)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=Path("monitor_state.json"),
        help="where the last accepted checkpoint is kept",
    )
    args = parser.parse_args(argv)
    name, key, _encoding = args.log_key
    try:
        for line in monitor(Source(args.prefix), name, key, args.state):
            print(f"OK   {line}")
    except MonitorFailure as exc:
        print(f"FAIL {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
