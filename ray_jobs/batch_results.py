"""What the Ray ingest driver makes of a batch: crashed intakes, merged verdicts, pixel tally."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from detectors.base import Verdict
from ray_jobs.fused import FusedResult
from registry.ingest import assemble
from registry.intake.pipeline import IntakeResult
from registry.intake.sniff import OCTET_STREAM, sniff


def crashed_intake(path: str, cause: BaseException) -> IntakeResult:
    """The result for a file whose intake killed its worker: content-addressed if readable."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
            handle.seek(0)
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
            size = os.fstat(handle.fileno()).st_size
    except OSError as exc:
        return IntakeResult(
            path,
            "",
            0,
            OCTET_STREAM,
            error="unreadable",
            error_detail=exc.strerror or type(exc).__name__,
        )
    detail = f"decoding crashed the intake worker: {type(cause).__name__}"
    return IntakeResult(
        path,
        digest,
        size,
        sniff(head) if head else OCTET_STREAM,
        error="corrupt",
        error_detail=detail,
    )


def merge(
    fused: FusedResult,
    pooled: Sequence[Sequence[Verdict]],
    order: Sequence[tuple[bool, int]],
) -> list[list[Verdict]]:
    """Verdicts per file in the detectors' order, from the fused actor's and the pools'.

    ``order[k]`` says where detector ``k``'s verdicts are: ``(True, i)``, position ``i`` of
    the fused actor's list per file; ``(False, j)``, pool ``j``'s list (one per readable file).
    """
    readable = [mine for fact, mine in zip(fused.facts, fused.verdicts, strict=True) if fact.ok]
    per_detector = [
        [mine[i] for mine in readable] if in_fused else list(pooled[i]) for in_fused, i in order
    ]
    return assemble(fused.facts, per_detector)


@dataclass
class PixelTally:
    """Decoded bytes per file seen so far, to keep large images from piling up in flight."""

    files: int = 0
    pixel_bytes: int = 0

    def add(self, facts: Sequence[IntakeResult]) -> None:
        """Count a collected batch (RGBA-sized, an upper bound for the common modes)."""
        for fact in facts:
            self.files += 1
            if fact.ok and fact.width and fact.height:
                self.pixel_bytes += fact.width * fact.height * 4

    def window(self, max_batches: int, batch_size: int, budget_bytes: int) -> int:
        """Batches allowed in flight: ``max_batches``, fewer when batches are large."""
        if not self.files:
            return max_batches
        per_batch = self.pixel_bytes / self.files * batch_size
        return max(1, min(max_batches, int(budget_bytes // max(per_batch, 1.0))))
