"""Writing one batch of fresh verdicts: encode, sign, hash and COPY, overlapped.

The work per verdict is CPU in this process (record encoding, the Ed25519 signature, the
COPY line) and CPU in the PostgreSQL backend (parsing the row, checking its foreign keys,
updating the indexes). Done one after the other they add up; here they overlap:

* the COPY is opened first and fed chunk by chunk through psycopg's ``QueuedLibpqWriter``,
  whose thread sends data while this one keeps encoding, so the server ingests chunk k while
  chunk k+1 is being prepared;
* signing runs on a worker thread one chunk ahead of line building (libsodium, called through
  cffi, releases the GIL while it signs). Measured 1.05x signing inline (docs/benchmarks.md);
  small batches sign inline, where starting a thread would cost more than it saves.

The contract does not change: one signature per verdict over its canonical bytes, log
indexes ``start, start + 1, …`` assigned by the caller under the sequencer lock, and
everything inside the caller's transaction. If anything fails part-way (a record that cannot
be encoded, a signer error, the server refusing a row) the COPY is aborted, the exception
propagates, and the caller's rollback leaves no row of the batch behind.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from psycopg import Cursor
from psycopg.copy import QueuedLibpqWriter

from detectors.base import Verdict
from registry.ledger import merkle
from registry.ledger import pg_copy as copy_text
from registry.ledger.record_encoding import BatchContext, EncodedRecord, encode_record
from registry.ledger.signing import Signer

#: Verdicts per chunk: large enough that per-chunk overhead vanishes, small enough that the
#: server and the signer thread start early in a 1,000-verdict batch.
CHUNK = 128

_SPECIAL = re.compile("[\\\\\n\r\x00]").search

#: Below this many fresh verdicts a batch is signed inline (a thread would cost more).
THREADED_FROM = 2 * CHUNK


@dataclass(frozen=True, slots=True)
class Written:
    """One verdict as written: its signed bytes, signature and Merkle leaf hash."""

    canonical: bytes
    signature: bytes
    leaf: bytes


def _sign_all(signer: Signer, records: Sequence[EncodedRecord]) -> list[bytes]:
    return [signer.sign(record.canonical) for record in records]


class BatchWriter:
    """Writes fresh verdicts with consecutive log indexes into ``verdicts`` by COPY."""

    def __init__(
        self,
        signer: Signer,
        *,
        start: int,
        created_at: datetime,
        ingest_run_id: int | None,
    ) -> None:
        self.signer = signer
        self.start = start
        self.context = BatchContext.create(signer.key_id, created_at)
        self._created_at = copy_text.field(created_at)
        self._ingest_run_id = copy_text.field(ingest_run_id)
        self._key_id = copy_text.field(signer.key_id) + "\n"

    def write(
        self, cursor: Cursor[object], copy_sql: str, verdicts: Sequence[Verdict]
    ) -> list[Written]:
        """COPY ``verdicts`` with ``copy_sql``; the results are in input order."""
        chunks = [verdicts[i : i + CHUNK] for i in range(0, len(verdicts), CHUNK)]
        written: list[Written] = []
        with cursor.copy(copy_sql, writer=QueuedLibpqWriter(cursor)) as copy:
            if len(verdicts) < THREADED_FROM:
                for number, chunk in enumerate(chunks):
                    records = self._encode(number, chunk)
                    copy.write(
                        self._lines(chunk, records, _sign_all(self.signer, records), written)
                    )
                return written
            with ThreadPoolExecutor(1, thread_name_prefix="provreg-sign") as signing:
                pending: tuple[Sequence[Verdict], list[EncodedRecord], Future[list[bytes]]]
                pending = self._submit(signing, 0, chunks[0])
                for number in range(1, len(chunks) + 1):
                    ahead = (
                        self._submit(signing, number, chunks[number])
                        if number < len(chunks)
                        else None
                    )
                    chunk, records, signatures = pending
                    copy.write(self._lines(chunk, records, signatures.result(), written))
                    if ahead is not None:
                        pending = ahead
        return written

    def _submit(
        self, signing: ThreadPoolExecutor, number: int, chunk: Sequence[Verdict]
    ) -> tuple[Sequence[Verdict], list[EncodedRecord], Future[list[bytes]]]:
        records = self._encode(number, chunk)
        return chunk, records, signing.submit(_sign_all, self.signer, records)

    def _encode(self, number: int, chunk: Sequence[Verdict]) -> list[EncodedRecord]:
        first = self.start + number * CHUNK
        return [
            encode_record(verdict, log_index=first + offset, context=self.context)
            for offset, verdict in enumerate(chunk)
        ]

    def _lines(
        self,
        chunk: Sequence[Verdict],
        records: Sequence[EncodedRecord],
        signatures: Sequence[bytes],
        written: list[Written],
    ) -> str:
        field, bytea = copy_text.field, copy_text.bytea_field
        lines = []
        for verdict, record, signature in zip(chunk, records, signatures, strict=True):
            leaf = merkle.leaf_hash(record.canonical)
            written.append(Written(record.canonical, signature, leaf))
            # The short identity columns are nearly always plain text needing no escape:
            # check them joined, and fall back to column-by-column escaping when not.
            asset, detector, version = verdict.asset_sha256, verdict.detector, verdict.version
            checksum, label = verdict.model_checksum, verdict.label
            if (
                type(asset) is str
                and type(detector) is str
                and type(version) is str
                and type(label) is str
                and (checksum is None or type(checksum) is str)
                and _SPECIAL(probe := f"{asset}\t{detector}\t{version}\t{checksum or ''}\t{label}")
                is None
                and probe.count("\t") == 4
            ):
                identity = (
                    f"{asset}\t{detector}\t{version}\t"
                    f"{copy_text.NULL if checksum is None else checksum}\t{label}"
                )
            else:
                identity = "\t".join(
                    [field(value) for value in (asset, detector, version, checksum, label)]
                )
            lines.append(
                "\t".join(
                    (
                        str(self.start + len(written) - 1),
                        identity,
                        "t" if verdict.positive else "f",
                        field(record.score),
                        field(record.p_value),
                        field(verdict.error),
                        copy_text.text_field(record.evidence_json),
                        self._created_at,
                        self._ingest_run_id,
                        bytea(record.canonical),
                        bytea(leaf),
                        bytea(signature),
                        self._key_id,
                    )
                )
            )
        return "".join(lines)
