"""Retroactive matching: the archive index of every ingested image's PDQ hash, and searching
it when a bank gains (or re-enables) references; see docs/detectors/copy.md.

``models`` (tables), ``hashing`` (signals computed at ingest), ``archive_index`` (the saved
binary index), ``matching`` (retro runs and withdrawals), ``queries`` (reading them back).
Submodules are imported where used: this package is imported by ``registry.db.models``.
"""
