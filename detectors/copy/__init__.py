"""Copy detection: is this image a (possibly edited) copy of a known reference?

Pure building blocks, no registry, Ray or database:

- :mod:`detectors.copy.signals` — PDQ (with quality and dihedral variants) and pHash.
- :mod:`detectors.copy.binary_index` — FAISS binary index over hashes with int64 ids.
- :mod:`detectors.copy.verification` — SIFT + RANSAC geometric verification of a pair.
- :mod:`detectors.copy.embedding` — pluggable global-descriptor embedders and a float index.
- :mod:`detectors.copy.matcher` — :class:`ReferenceSet`, combining the above, persisted to a
  directory.
- :mod:`detectors.copy.detector` — the ``copy`` detector.
"""
