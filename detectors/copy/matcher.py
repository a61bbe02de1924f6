"""A reference set: known images, their signals, indexes and verification features.

:class:`ReferenceSet` answers "is this image a copy of a reference?":

1. **Candidates.** The query's eight dihedral PDQ hashes are range-searched in the PDQ index
   up to ``candidate_radius`` (default 48 bits: unrelated PDQ hashes sit near 128, so this is
   still far from chance); its 64-bit pHash is range-searched up to 10 bits; its global
   embedding's ``embed_k`` nearest references are added (they catch what the hashes miss:
   crops, small rotations, borders, overlays).
2. **Decision.** A candidate whose best PDQ distance is ``<= pdq_threshold - verify_band``
   with both hashes of trusted quality (>= 50) is a match on PDQ alone. Every other
   candidate — PDQ inside the near-threshold band, PDQ from a low-quality hash, or found
   only by pHash or the embedding — is decided by geometric verification (SIFT + RANSAC,
   :mod:`detectors.copy.verification`), at most ``max_verify`` per query, best first.
   Candidates found only by pHash or the embedding are verified (and reported) only when no
   reference matched on PDQ alone.

Persistence: a directory holding a base snapshot and an append-only delta log.
:meth:`ReferenceSet.save` with ``compact=True`` (and whenever the log has grown past
:data:`COMPACT_FRACTION` of the base) writes a new generation: generation-numbered files
(``pdq.<gen>.index``, ``phash.<gen>.index``, ``embed.<gen>.index``, and the SIFT features,
memory-mapped and read only for verified candidates: :mod:`detectors.copy.feature_store`),
each fsynced and renamed into place, and then, atomically, ``manifest.json`` naming them.
Otherwise a save appends one record to ``delta.<gen>.log``
(:mod:`detectors.copy.journal`) with just the changes made since the set was loaded or last
saved: a ``bank add`` of one image writes about its own size, not the whole set (1.8 s at
1,600 references before; docs/detectors/copy.md, "Cost of an update"). :meth:`load` reads the
base and replays the log; a torn last record is ignored. A reader that loaded generation
``g`` picks up later appends with :meth:`refresh`, and :func:`manifest_generation` tells it
when a compaction replaced ``g`` (it then reloads). Files of generations older than the
previous one are removed after a compaction. Writers must be serialised by the caller (the
registry holds an ``fcntl`` lock around load, change and save).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from PIL import Image

from detectors.copy import journal, signals
from detectors.copy.atomic import write_atomically
from detectors.copy.binary_index import BinaryHashIndex, IndexFileError
from detectors.copy.embedding import Embedder, HandcraftedEmbedder
from detectors.copy.feature_store import FeatureStore, FeatureStoreError
from detectors.copy.vector_index import VectorIndex
from detectors.copy.verification import Features, GeometricVerifier, VerificationResult

MANIFEST: Final = "manifest.json"
_FORMAT: Final = 1
COMPACT_FRACTION: Final = 0.25
"""A save compacts (writes a new base) once the delta log would exceed this fraction of the
base's size, or :data:`COMPACT_MIN_BYTES` if that is larger."""
COMPACT_MIN_BYTES: Final = 1 << 20


class ReferenceSetError(Exception):
    """Base class for reference-set errors (bad directory, unknown embedder, bad id)."""


@dataclass(frozen=True)
class Reference:
    """One known image: caller id, content hash, bank and its hashes."""

    ref_id: int
    sha256: str
    bank: str
    pdq: str
    quality: int
    phash: str
    """64-bit pHash hex; empty for a hash-only reference (see :meth:`ReferenceSet.add_hash`)."""

    @property
    def hash_only(self) -> bool:
        """True when only a PDQ hash is known (no image: no pHash, embedding or features)."""
        return not self.phash


@dataclass(frozen=True)
class NewReference:
    """An image to add with :meth:`ReferenceSet.add_many` (see :meth:`ReferenceSet.add`)."""

    ref_id: int
    image: Image.Image
    sha256: str | None = None
    bank: str = "default"


@dataclass(frozen=True)
class Match:
    """One candidate reference for a query and how it was judged."""

    reference: Reference
    signal: str
    """What decided: ``pdq`` (hash within threshold) or ``verification`` (SIFT + RANSAC)."""
    distance: int
    """Best PDQ Hamming distance over the query's eight dihedral variants."""
    variant: str
    """The dihedral variant of the query that gave ``distance``."""
    quality: int
    """PDQ quality of the query."""
    phash_distance: int | None
    """``None`` for a hash-only reference."""
    embedding_similarity: float | None
    matched: bool
    """True when this candidate is beyond the decision threshold (a copy)."""
    verification: VerificationResult | None = None

    @property
    def match_kind(self) -> str | None:
        """How a match was decided: ``hash`` (PDQ within ``threshold - verify_band`` on
        trusted-quality hashes, no verification needed) or ``verified`` (SIFT + RANSAC
        confirmed it, whatever the PDQ distance: a bank's threshold bounds hash matches, not
        verified ones); None when not a match."""
        if not self.matched:
            return None
        return "hash" if self.verification is None else "verified"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready evidence for this candidate."""
        return {
            "ref_id": self.reference.ref_id, "bank": self.reference.bank,
            "reference_sha256": self.reference.sha256, "signal": self.signal,
            "distance": self.distance, "variant": self.variant, "quality": self.quality,
            "reference_quality": self.reference.quality, "phash_distance": self.phash_distance,
            "embedding_similarity": None if self.embedding_similarity is None
            else round(self.embedding_similarity, 4),
            "match": self.matched, "match_kind": self.match_kind,
            "verification": None if self.verification is None else self.verification.to_json(),
        }


@dataclass
class QueryReport:
    """Everything :meth:`ReferenceSet.query` learned about one image."""

    matches: list[Match]
    query_quality: int
    best_distance: int | None
    candidates: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MatchConfig:
    """Decision thresholds (defaults documented in docs/detectors/copy.md)."""

    pdq_threshold: int = signals.PDQ_MATCH_THRESHOLD
    verify_band: int = 4
    candidate_radius: int = 48
    phash_threshold: int = signals.PHASH_MATCH_THRESHOLD
    embed_k: int = 5
    max_verify: int = 8
    bank_thresholds: dict[str, int] = field(default_factory=dict)
    """Per-bank PDQ thresholds overriding ``pdq_threshold`` for references of that bank."""

    def threshold_for(self, bank: str) -> int:
        """The PDQ match threshold for references of ``bank``."""
        return self.bank_thresholds.get(bank, self.pdq_threshold)


MAX_SIDE: Final = 1024
"""Images are shrunk to this longest side before any signal is computed (references and
queries alike): it bounds the cost of a 24-megapixel upload to that of a 1-megapixel one and
changes PDQ by a few bits at most."""


def bounded_rgb(image: Image.Image) -> Image.Image:
    """``image`` as RGB with its longest side at most :data:`MAX_SIDE`."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    scale = MAX_SIDE / max(rgb.width, rgb.height, 1)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
    return rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


ManifestStamp = tuple[int, int, int]


def manifest_stamp(directory: str | Path) -> ManifestStamp | None:
    """(inode, size, mtime ns) of ``directory``'s manifest, or ``None`` if absent.

    The manifest is only ever replaced whole, by rename, so an unchanged stamp means an
    unchanged generation: checked per batch, it spares parsing a manifest that lists every
    reference (about 180 bytes each for hash-only references: ~180 MB at a million).
    """
    try:
        stat = os.stat(Path(directory) / MANIFEST)
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def manifest_generation(directory: str | Path) -> int | None:
    """The generation number written in ``directory``'s manifest, or ``None`` if absent."""
    try:
        return int(json.loads((Path(directory) / MANIFEST).read_text())["generation"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


class ReferenceSet:
    """Known images and the indexes that find copies of them."""

    def __init__(self, config: MatchConfig | None = None, *,
                 embedder: Embedder | None = None,
                 verifier: GeometricVerifier | None = None) -> None:
        self.config = config or MatchConfig()
        self.embedder = embedder or HandcraftedEmbedder()
        self.verifier = verifier or GeometricVerifier()
        self.generation = 0
        self.revision = 0
        """Number of saves (snapshots and appended log records) this content reflects."""
        self._log_end = 0
        self._base_bytes = 0
        self._home: Path | None = None
        self._stamp: ManifestStamp | None = None
        """The directory this set was loaded from or last saved to (appends go only there)."""
        self._journal: list[tuple[str, Any]] = []
        """Changes since the last load or save, replayable (see :meth:`_apply`)."""
        self._saved_config: dict[str, Any] | None = None
        self._refs: dict[int, Reference] = {}
        self._pdq = BinaryHashIndex(signals.PDQ_BITS)
        self._phash = BinaryHashIndex(signals.PHASH_BITS, "flat")
        self._embed = VectorIndex(self.embedder.dim)
        self._features = FeatureStore()

    def __len__(self) -> int:
        return len(self._refs)

    def __contains__(self, ref_id: object) -> bool:
        return ref_id in self._refs

    def references(self) -> list[Reference]:
        """All references, by id."""
        return [self._refs[i] for i in sorted(self._refs)]

    def add(self, ref_id: int, image: Image.Image, *, sha256: str | None = None,
            bank: str = "default") -> Reference:
        """Index ``image`` as reference ``ref_id``.

        ``sha256`` should be the SHA-256 of the reference file's bytes; when omitted the
        SHA-256 of the decoded RGB pixels is used.
        """
        return self.add_many([NewReference(ref_id, image, sha256, bank)])[0]

    def add_many(self, items: Sequence[NewReference]) -> list[Reference]:
        """Index many references with one index update each (much faster than repeated
        :meth:`add` for big banks: the indexes check ids against their content once)."""
        ids = [item.ref_id for item in items]
        clash = [i for i in ids if i in self._refs]
        if clash or len(set(ids)) != len(ids):
            raise ReferenceSetError(f"reference ids already present or repeated: {clash[:5]}")
        if not items:
            return []
        refs: list[Reference] = []
        pdq_codes, phash_codes, rgbs = [], [], []
        features: dict[int, Features] = {}
        for item in items:
            rgb = bounded_rgb(item.image)
            digest = item.sha256 or hashlib.sha256(rgb.tobytes()).hexdigest()
            pdq = signals.pdq(rgb)
            phash = signals.phash(rgb)
            refs.append(Reference(item.ref_id, digest, item.bank, pdq.hex, pdq.quality,
                                  signals.code_to_hex(phash)))
            pdq_codes.append(pdq.code)
            phash_codes.append(phash)
            rgbs.append(rgb)
            features[item.ref_id] = self.verifier.features(self.verifier.prepare(rgb))
        self._insert(refs, np.stack(pdq_codes), np.stack(phash_codes),
                     np.asarray(self.embedder.embed(rgbs), dtype=np.float32),
                     [features[i] for i in ids])
        return refs

    def _insert(self, refs: list[Reference], pdq: np.ndarray[Any, Any],
                phash: np.ndarray[Any, Any] | None = None,
                embedding: np.ndarray[Any, Any] | None = None,
                features: list[Features] | None = None, *, journal_it: bool = True) -> None:
        """Put computed references into the indexes (all with images, or all hash-only)."""
        ids = [ref.ref_id for ref in refs]
        self._pdq.add(ids, pdq)
        if phash is not None and embedding is not None and features is not None:
            self._phash.add(ids, phash)
            self._embed.add(ids, embedding)
            for ref_id, feats in zip(ids, features, strict=True):
                self._features.put(ref_id, feats)
        self._refs.update((ref.ref_id, ref) for ref in refs)
        if journal_it:
            self._journal.append(("add", (refs, pdq, phash, embedding, features)))

    def add_hash(self, ref_id: int, pdq_hex: str, quality: int, *, sha256: str = "",
                 bank: str = "default") -> Reference:
        """Index a reference known only by its PDQ hash (e.g. imported from a hash list).

        It is found by PDQ alone: with no image there is no pHash, embedding or SIFT
        features, so a trusted-quality PDQ distance up to the bank's threshold (no
        verification band) is a match and nothing beyond it can be verified.
        """
        if ref_id in self._refs:
            raise ReferenceSetError(f"reference id {ref_id} already present")
        code = signals.hex_to_code(pdq_hex.lower())
        ref = Reference(ref_id, sha256, bank, signals.code_to_hex(code), int(quality), "")
        self._insert([ref], code[None])
        return ref

    def remove(self, ref_id: int) -> bool:
        """Forget a reference; returns whether it was present."""
        if self._refs.pop(ref_id, None) is None:
            return False
        for index in (self._pdq, self._phash, self._embed):
            index.remove([ref_id])
        self._features.pop(ref_id)
        self._journal.append(("remove", ref_id))
        return True

    # --- querying -----------------------------------------------------------------------

    def match(self, image: Image.Image) -> list[Match]:
        """Candidates for ``image``, matched ones first, then by PDQ distance."""
        return self.query(image).matches

    def query(self, image: Image.Image) -> QueryReport:
        """Candidates with their judgements, the query's PDQ quality and best distance."""
        rgb = bounded_rgb(image)
        variants = signals.pdq_dihedral(rgb)
        quality = variants[0].quality
        if not self._refs:
            return QueryReport([], quality, None, notes=["no references loaded"])
        codes = np.stack([v.code for v in variants])
        cfg = self.config
        candidates: set[int] = set()
        hits = self._pdq.range_search(codes, cfg.candidate_radius)
        candidates.update(int(i) for i in hits.ids)
        phash = signals.phash(rgb)
        candidates.update(int(i) for i in self._phash.range_search(phash, cfg.phash_threshold).ids)
        ids, sims = self._embed.similarities(self.embedder.embed([rgb]), cfg.embed_k)
        similarity = {int(i): float(s) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0}
        candidates.update(similarity)
        nearest = self._pdq.search(codes, 1)
        best = int(nearest.distances.min()) if len(nearest.distances) else None

        matches = [self._judge_pdq(self._refs[i], codes, quality, phash, similarity.get(i))
                   for i in candidates if i in self._refs]
        matches.sort(key=lambda m: (m.distance, -(m.embedding_similarity or 0.0),
                                    m.reference.ref_id))
        confident = any(m.matched for m in matches)
        # Candidates found only by pHash or the embedding are verified only when PDQ found
        # nothing: they exist to catch what PDQ misses, and verification is the costly step.
        near = [m for m in matches if m.signal == "verification"
                and (m.distance <= cfg.candidate_radius or not confident)]
        to_verify = near[: cfg.max_verify]
        query_features = self.verifier.query_features(rgb) if to_verify else None
        judged = {id(m): self._verify(query_features, m) for m in to_verify if query_features}
        final = [judged.get(id(m), m) for m in matches
                 if m.signal == "pdq" or id(m) in judged or m.distance <= cfg.candidate_radius]
        final.sort(key=lambda m: (not m.matched, m.distance, m.reference.ref_id))
        notes = [] if quality >= signals.PDQ_MIN_QUALITY else [
            f"query PDQ quality {quality} < {signals.PDQ_MIN_QUALITY}: PDQ alone not trusted"]
        return QueryReport(final, quality, best, len(candidates), notes)

    def _judge_pdq(self, ref: Reference, codes: np.ndarray[Any, Any], quality: int,
                   phash: np.ndarray[Any, Any], similarity: float | None) -> Match:
        ref_code = signals.hex_to_code(ref.pdq)
        dists = [signals.hamming(c, ref_code) for c in codes]
        variant = int(np.argmin(dists))
        distance = dists[variant]
        trusted = quality >= signals.PDQ_MIN_QUALITY and ref.quality >= signals.PDQ_MIN_QUALITY
        band = 0 if ref.hash_only else self.config.verify_band
        confident = trusted and distance <= self.config.threshold_for(ref.bank) - band
        return Match(
            reference=ref, signal="pdq" if confident else "verification", distance=distance,
            variant=signals.DIHEDRAL_NAMES[variant], quality=quality,
            phash_distance=None if ref.hash_only
            else signals.hamming(phash, signals.hex_to_code(ref.phash, 64)),
            embedding_similarity=similarity, matched=confident)

    def _verify(self, query: tuple[Features, Features], match: Match) -> Match:
        features = self._features.get(match.reference.ref_id)
        if features is None:
            return match
        result = self.verifier.verify(query, features)
        threshold = self.config.threshold_for(match.reference.bank)
        signal = "pdq" if match.distance <= threshold else "verification"
        return Match(match.reference, signal, match.distance, match.variant, match.quality,
                     match.phash_distance, match.embedding_similarity, result.verified, result)

    # --- persistence --------------------------------------------------------------------

    def save(self, directory: str | Path, *, compact: bool = False) -> int:
        """Persist the changes since load to ``directory``; returns the generation.

        Appends one delta-log record when this set was loaded from (or last saved to) the
        newest generation there and the log stays small; otherwise, or with ``compact``,
        writes a new base generation.
        """
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        config = dict(self.config.__dict__)
        if not compact and self._home == root.resolve() and self._current_on_disk(root):
            log = root / _log_name(self.generation)
            unseen, _ = journal.read(log, self._log_end)
            if not unseen:  # nothing appended by another writer (a torn tail is dropped)
                if not self._journal and config == self._saved_config:
                    return self.generation
                record = journal.encode(self._commit(config))
                limit = max(COMPACT_FRACTION * self._base_bytes, COMPACT_MIN_BYTES)
                if self._log_end + len(record) <= limit:
                    self._log_end = journal.append(log, record, self._log_end)
                    self._journal, self._saved_config = [], config
                    self.revision += 1
                    return self.generation
        return self._snapshot(root, config)

    def _snapshot(self, root: Path, config: dict[str, Any]) -> int:
        gen = max(self.generation, manifest_generation(root) or 0) + 1
        files = {"pdq": f"pdq.{gen}.index", "phash": f"phash.{gen}.index",
                 "embed": f"embed.{gen}.index"}
        self._pdq.save(root / files["pdq"])
        self._phash.save(root / files["phash"])
        self._embed.save(root / files["embed"])
        files.update(self._features.save(root, gen))
        self._features = FeatureStore.load(root, files)  # the overlay is now on disk
        manifest = {
            "format": _FORMAT, "generation": gen, "revision": self.revision + 1,
            "files": files,
            "embedder": {"name": self.embedder.name, "dim": self.embedder.dim,
                         "checksum": self.embedder.checksum},
            "config": config,
            "references": [ref.__dict__ for ref in self.references()],
        }
        (root / _log_name(gen)).unlink(missing_ok=True)  # a leftover of a crashed compaction
        data = json.dumps(manifest, indent=1).encode()
        write_atomically(root / MANIFEST, lambda fh: fh.write(data))
        self._stamp = manifest_stamp(root)
        self.generation, self.revision = gen, self.revision + 1
        self._log_end, self._journal, self._saved_config = 0, [], config
        self._home = root.resolve()
        self._base_bytes = sum((root / name).stat().st_size for name in files.values())
        for old in root.iterdir():
            parts = old.name.split(".")
            if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < gen - 1:
                old.unlink(missing_ok=True)
        return gen

    def _commit(self, config: dict[str, Any]) -> journal.Commit:
        """The journal since the last save as one log record."""
        ops: list[dict[str, Any]] = []
        arrays: dict[str, np.ndarray[Any, Any]] = {}
        for n, (kind, payload) in enumerate(self._journal):
            if kind == "remove":
                ops.append({"op": "remove", "ref_id": int(payload)})
                continue
            refs, pdq, phash, embedding, features = payload
            ops.append({"op": "add", "key": n, "refs": [ref.__dict__ for ref in refs]})
            arrays[f"pdq_{n}"] = pdq
            if phash is not None:
                arrays[f"phash_{n}"] = phash
                arrays[f"embed_{n}"] = embedding
                arrays.update(_pack_features(f"_{n}", features))
        if config != self._saved_config:
            ops.append({"op": "config", "config": config})
        return journal.Commit(self.revision + 1, ops, arrays)

    def _apply(self, commit: journal.Commit) -> None:
        """Replay one log record (see :meth:`_commit`)."""
        arrays = commit.arrays
        for op in commit.ops:
            if op["op"] == "remove":
                if self._refs.pop(int(op["ref_id"]), None) is not None:
                    for index in (self._pdq, self._phash, self._embed):
                        index.remove([int(op["ref_id"])])
                    self._features.pop(int(op["ref_id"]))
            elif op["op"] == "config":
                self.config = MatchConfig(**op["config"])
                self._saved_config = dict(op["config"])
            elif op["op"] == "add":
                key = op["key"]
                refs = [Reference(**r) for r in op["refs"]]
                if f"phash_{key}" in arrays:
                    self._insert(refs, arrays[f"pdq_{key}"], arrays[f"phash_{key}"],
                                 arrays[f"embed_{key}"], _unpack_features(f"_{key}", arrays),
                                 journal_it=False)
                else:
                    self._insert(refs, arrays[f"pdq_{key}"], journal_it=False)
        self.revision = commit.revision

    def refresh(self, directory: str | Path) -> bool:
        """Apply log records appended since this set was loaded.

        Returns False (and changes nothing) when a compaction replaced this set's
        generation: the caller should :meth:`load` again.
        """
        root = Path(directory)
        if not self._current_on_disk(root):
            return False
        commits, self._log_end = journal.read(root / _log_name(self.generation),
                                              self._log_end)
        for commit in commits:
            self._apply(commit)
        return True

    def _current_on_disk(self, root: Path) -> bool:
        """Whether ``root``'s manifest still names this set's generation (parsed only when
        the file changed since this set last read or wrote it)."""
        stamp = manifest_stamp(root)
        if stamp is not None and stamp == self._stamp:
            return True
        if manifest_generation(root) != self.generation:
            return False
        self._stamp = stamp
        return True

    @classmethod
    def load(cls, directory: str | Path, *, embedder: Embedder | None = None,
             verifier: GeometricVerifier | None = None) -> ReferenceSet:
        """Load the newest generation in ``directory`` and replay its delta log.

        The embedder must be the one the set was built with (same name and checksum).
        """
        root = Path(directory)
        stamp = manifest_stamp(root)  # before reading: a newer file then differs from it
        try:
            manifest = json.loads((root / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise ReferenceSetError(f"no readable manifest in {root}: {exc}") from exc
        if manifest.get("format") != _FORMAT:
            raise ReferenceSetError(f"unknown reference-set format {manifest.get('format')!r}")
        embedder = embedder or HandcraftedEmbedder()
        spec = manifest["embedder"]
        if spec["name"] != embedder.name or spec["checksum"] != embedder.checksum:
            raise ReferenceSetError(
                f"reference set was built with embedder {spec['name']} ({spec['checksum']}),"
                f" not {embedder.name} ({embedder.checksum})")
        self = cls(MatchConfig(**manifest["config"]), embedder=embedder, verifier=verifier)
        files = manifest["files"]
        try:
            self._pdq = BinaryHashIndex.load(root / files["pdq"])
            self._phash = BinaryHashIndex.load(root / files["phash"])
            self._embed = VectorIndex.load(root / files["embed"])
            self._features = FeatureStore.load(root, files)
            self._base_bytes = sum((root / name).stat().st_size for name in files.values())
        except (IndexFileError, FeatureStoreError, OSError) as exc:
            raise ReferenceSetError(str(exc)) from exc
        self._refs = {int(r["ref_id"]): Reference(**r) for r in manifest["references"]}
        self.generation = int(manifest["generation"])
        self.revision = int(manifest.get("revision", self.generation))
        self._saved_config = dict(manifest["config"])
        self._home = root.resolve()
        self._stamp = stamp
        try:
            self.refresh(root)
        except (KeyError, TypeError, ValueError, IndexFileError) as exc:
            raise ReferenceSetError(f"cannot replay the delta log in {root}: {exc}") from exc
        self._journal = []
        return self


def _log_name(generation: int) -> str:
    return f"delta.{generation}.log"


def _pack_features(suffix: str, features: list[Features]) -> dict[str, np.ndarray[Any, Any]]:
    """Features of several references as flat arrays (``None`` descriptors: count -1)."""
    counts = np.array([len(f.points) if f.descriptors is not None else -1 - len(f.points)
                       for f in features], dtype=np.int64)
    points = np.concatenate([f.points for f in features]).astype(np.float32) \
        if features else np.zeros((0, 2), dtype=np.float32)
    desc = [f.descriptors for f in features if f.descriptors is not None]
    descriptors = np.concatenate(desc).astype(np.uint8) if desc else \
        np.zeros((0, 128), dtype=np.uint8)
    return {f"fcount{suffix}": counts, f"fpoints{suffix}": points.reshape(-1, 2),
            f"fdesc{suffix}": descriptors}


def _unpack_features(suffix: str, arrays: dict[str, np.ndarray[Any, Any]]) -> list[Features]:
    out: list[Features] = []
    p = d = 0
    points, descriptors = arrays[f"fpoints{suffix}"], arrays[f"fdesc{suffix}"]
    for count in arrays[f"fcount{suffix}"].tolist():
        n = count if count >= 0 else -1 - count
        desc = descriptors[d:d + n] if count >= 0 else None
        out.append(Features(points[p:p + n], desc))
        p += n
        d += n if count >= 0 else 0
    return out


