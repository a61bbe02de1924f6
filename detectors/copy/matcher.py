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

Persistence (:mod:`detectors.copy.reference_store`; the records in
:mod:`detectors.copy.references`): a directory holding a base snapshot and an append-only delta log.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from detectors.copy import signals
from detectors.copy.binary_index import BinaryHashIndex
from detectors.copy.embedding import Embedder, HandcraftedEmbedder
from detectors.copy.feature_store import FeatureStore
from detectors.copy.reference_store import (
    COMPACT_FRACTION,
    COMPACT_MIN_BYTES,
    MANIFEST,
    ManifestStamp,
    ReferenceStore,
    manifest_generation,
    manifest_stamp,
    read_manifest,
)
from detectors.copy.references import (
    MAX_SIDE,
    Match,
    MatchConfig,
    NewReference,
    QueryReport,
    Reference,
    ReferenceSetError,
    bounded_rgb,
)
from detectors.copy.vector_index import VectorIndex
from detectors.copy.verification import Features, GeometricVerifier

__all__ = [
    "COMPACT_FRACTION",
    "COMPACT_MIN_BYTES",
    "MANIFEST",
    "MAX_SIDE",
    "ManifestStamp",
    "Match",
    "MatchConfig",
    "NewReference",
    "QueryReport",
    "Reference",
    "ReferenceSet",
    "ReferenceSetError",
    "bounded_rgb",
    "manifest_generation",
    "manifest_stamp",
]


class ReferenceSet(ReferenceStore):
    """Known images and the indexes that find copies of them (persistence:
    :class:`~detectors.copy.reference_store.ReferenceStore`)."""

    def __init__(
        self,
        config: MatchConfig | None = None,
        *,
        embedder: Embedder | None = None,
        verifier: GeometricVerifier | None = None,
    ) -> None:
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

    def add(
        self, ref_id: int, image: Image.Image, *, sha256: str | None = None, bank: str = "default"
    ) -> Reference:
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
            refs.append(
                Reference(
                    item.ref_id, digest, item.bank, pdq.hex, pdq.quality, signals.code_to_hex(phash)
                )
            )
            pdq_codes.append(pdq.code)
            phash_codes.append(phash)
            rgbs.append(rgb)
            features[item.ref_id] = self.verifier.features(self.verifier.prepare(rgb))
        self._insert(
            refs,
            np.stack(pdq_codes),
            np.stack(phash_codes),
            np.asarray(self.embedder.embed(rgbs), dtype=np.float32),
            [features[i] for i in ids],
        )
        return refs

    def _insert(
        self,
        refs: list[Reference],
        pdq: np.ndarray[Any, Any],
        phash: np.ndarray[Any, Any] | None = None,
        embedding: np.ndarray[Any, Any] | None = None,
        features: list[Features] | None = None,
        *,
        journal_it: bool = True,
    ) -> None:
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

    def add_hash(
        self, ref_id: int, pdq_hex: str, quality: int, *, sha256: str = "", bank: str = "default"
    ) -> Reference:
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

        matches = [
            self._judge_pdq(self._refs[i], codes, quality, phash, similarity.get(i))
            for i in candidates
            if i in self._refs
        ]
        matches.sort(
            key=lambda m: (m.distance, -(m.embedding_similarity or 0.0), m.reference.ref_id)
        )
        confident = any(m.matched for m in matches)
        # Candidates found only by pHash or the embedding are verified only when PDQ found
        # nothing: they exist to catch what PDQ misses, and verification is the costly step.
        near = [
            m
            for m in matches
            if m.signal == "verification" and (m.distance <= cfg.candidate_radius or not confident)
        ]
        to_verify = near[: cfg.max_verify]
        query_features = self.verifier.query_features(rgb) if to_verify else None
        judged = {id(m): self._verify(query_features, m) for m in to_verify if query_features}
        final = [
            judged.get(id(m), m)
            for m in matches
            if m.signal == "pdq" or id(m) in judged or m.distance <= cfg.candidate_radius
        ]
        final.sort(key=lambda m: (not m.matched, m.distance, m.reference.ref_id))
        notes = (
            []
            if quality >= signals.PDQ_MIN_QUALITY
            else [f"query PDQ quality {quality} < {signals.PDQ_MIN_QUALITY}: PDQ alone not trusted"]
        )
        return QueryReport(final, quality, best, len(candidates), notes)

    def _judge_pdq(
        self,
        ref: Reference,
        codes: np.ndarray[Any, Any],
        quality: int,
        phash: np.ndarray[Any, Any],
        similarity: float | None,
    ) -> Match:
        ref_code = signals.hex_to_code(ref.pdq)
        dists = [signals.hamming(c, ref_code) for c in codes]
        variant = int(np.argmin(dists))
        distance = dists[variant]
        trusted = quality >= signals.PDQ_MIN_QUALITY and ref.quality >= signals.PDQ_MIN_QUALITY
        band = 0 if ref.hash_only else self.config.verify_band
        confident = trusted and distance <= self.config.threshold_for(ref.bank) - band
        return Match(
            reference=ref,
            signal="pdq" if confident else "verification",
            distance=distance,
            variant=signals.DIHEDRAL_NAMES[variant],
            quality=quality,
            phash_distance=None
            if ref.hash_only
            else signals.hamming(phash, signals.hex_to_code(ref.phash, 64)),
            embedding_similarity=similarity,
            matched=confident,
        )

    def _verify(self, query: tuple[Features, Features], match: Match) -> Match:
        features = self._features.get(match.reference.ref_id)
        if features is None:
            return match
        result = self.verifier.verify(query, features)
        threshold = self.config.threshold_for(match.reference.bank)
        signal = "pdq" if match.distance <= threshold else "verification"
        return Match(
            match.reference,
            signal,
            match.distance,
            match.variant,
            match.quality,
            match.phash_distance,
            match.embedding_similarity,
            result.verified,
            result,
        )

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        embedder: Embedder | None = None,
        verifier: GeometricVerifier | None = None,
    ) -> ReferenceSet:
        """Load the newest generation in ``directory`` and replay its delta log.

        The embedder must be the one the set was built with (same name and checksum).
        """
        root = Path(directory)
        manifest, stamp, embedder = read_manifest(root, embedder)
        self = cls(MatchConfig(**manifest["config"]), embedder=embedder, verifier=verifier)
        self._restore(root, manifest, stamp)
        return self
