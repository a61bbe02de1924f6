"""The ``watermark`` detector: public invisible-watermark marks and user-registered payloads.

For each payload, each channel order (BGR, RGB) and each array type the payload lists (uint8;
also float32 for SDXL) the decoded bits are compared with the payload: ``k`` of ``n`` bits
match. Under the null (no mark, fair random bits) ``k ~ Bin(n, 1/2)``, so the raw p-value is
``P(Bin(n, 1/2) >= k)``. Because ``m`` such tests run on every image (8 with the built-ins),
the raw p-value of each is Bonferroni-corrected (``min(1, m * p)``) and the verdict is
positive iff the best corrected p-value is at most ``fpr_target``: the chance that an unmarked
image with fair random bits is flagged at all is then at most ``fpr_target``.

A negative verdict means "not found": the mark does not survive 4:2:0 JPEG, resizing or
cropping, and anyone with the public encoder can add it to any image (it is spoofable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from detectors.base import Detector, JSONValue, Resources, Sample, Verdict
from detectors.watermark.decode import (
    MIN_PIXELS,
    ORDERS,
    BlockScores,
    band_height,
    block_count,
    decode_blocks,
)
from detectors.watermark.payloads import (
    BUILTIN_PAYLOADS,
    Payload,
    PayloadError,
    bits_to_hex,
    parse_payloads,
    table_digest,
)
from detectors.watermark.stats import binomial_tail, bonferroni

DEFAULT_FPR_TARGET = 1e-6
DEFAULT_MAX_PIXELS = 1024 * 1024  # an SDXL frame; a 136-bit payload still gets 120 votes a bit
_CODE_VERSION = "1.0.0"
_OPTIONS = frozenset({"fpr_target", "payloads", "builtin", "max_pixels"})


class WatermarkOptionsError(PayloadError):
    """The detector's options are malformed; the message names the option."""


class WatermarkDetector(Detector):
    """Decodes the SD v1, SD v2 and SDXL invisible watermarks and registered payloads."""

    name: ClassVar[str] = "watermark"
    # The digest ties the version to the built-in payload table and default threshold:
    # editing either changes the version, so old and new verdicts stay apart in the ledger.
    version: ClassVar[str] = (
        f"{_CODE_VERSION}+{table_digest(BUILTIN_PAYLOADS, DEFAULT_FPR_TARGET)[:12]}"
    )
    media_types: ClassVar[frozenset[str]] = frozenset({"image/*"})
    resources: ClassVar[Resources] = Resources(num_cpus=1.0, memory_mb=512)

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        unknown = set(self.options) - _OPTIONS
        if unknown:
            raise WatermarkOptionsError(
                f"unknown watermark option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_OPTIONS))}"
            )
        self.fpr_target = _fpr_target(self.options.get("fpr_target", DEFAULT_FPR_TARGET))
        builtin = self.options.get("builtin", True)
        if not isinstance(builtin, bool):
            raise WatermarkOptionsError("option 'builtin' must be true or false")
        max_pixels = self.options.get("max_pixels", DEFAULT_MAX_PIXELS)
        if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or (
            max_pixels < MIN_PIXELS
        ):
            raise WatermarkOptionsError(f"option 'max_pixels' must be an integer >= {MIN_PIXELS}")
        self.max_pixels = max_pixels
        extra = parse_payloads(self.options.get("payloads", []))
        self.payloads: tuple[Payload, ...] = (BUILTIN_PAYLOADS if builtin else ()) + extra
        if not self.payloads:
            raise WatermarkOptionsError("no payloads to look for: builtin is false and none given")
        self._default = builtin and not extra and self.fpr_target == DEFAULT_FPR_TARGET
        self._digest = table_digest(self.payloads, self.fpr_target)

    @property
    def model_checksum(self) -> str | None:
        """None with the default table; otherwise the SHA-256 of the table and threshold used.

        There are no weights, but registered payloads and the threshold change verdicts, so a
        non-default configuration is named in the verdict identity.
        """
        return None if self._default else self._digest

    @property
    def tests_per_image(self) -> int:
        """Bonferroni family size: every payload in every channel order and array type."""
        return sum(len(p.domains) for p in self.payloads) * len(ORDERS)

    def detect_one(self, sample: Sample) -> Verdict:
        if sample.image is None:
            return self.error(sample, "not-an-image", {"media_type": sample.media_type})
        width, height = sample.image.size
        size: dict[str, JSONValue] = {"width": width, "height": height}
        rows = band_height(height, width, self.max_pixels)
        blocks = block_count(rows, width)
        usable = [p for p in self.payloads if p.n <= blocks]
        if height * width < MIN_PIXELS or not usable:
            return self.not_found(sample, evidence={
                **size,
                "reason": "too-small",
                "detail": (
                    f"invisible-watermark marks need at least {MIN_PIXELS} pixels and one "
                    "4x4 block per payload bit; this image is too small to carry the mark"
                ),
            })
        # Convert only the band we decode: large uploads need not be expanded whole.
        top = sample.image if rows == height else sample.image.crop((0, 0, width, rows))
        band = np.asarray(top.convert("RGB"), dtype=np.uint8)
        decoded: dict[tuple[str, str, str], BlockScores] = {}
        for method, domain in sorted({(p.method, d) for p in usable for d in p.domains}):
            for order in ORDERS:
                decoded[method, order, domain] = decode_blocks(band, method, order, domain)
        return self._judge(sample, usable, decoded, {**size, "decoded_rows": rows})

    def _judge(
        self,
        sample: Sample,
        usable: list[Payload],
        decoded: dict[tuple[str, str, str], BlockScores],
        context: dict[str, JSONValue],
    ) -> Verdict:
        tests = self.tests_per_image
        matches = [
            _Match.compare(
                payload, order, domain,
                decoded[payload.method, order, domain].fold(payload.n), tests,
            )
            for payload in usable
            for domain in payload.domains
            for order in ORDERS
        ]
        # Smallest raw p wins; ties go to the earlier row (table order).
        best = min(enumerate(matches), key=lambda item: (item[1].p_raw, item[0]))[1]
        positive = best.p_corrected <= self.fpr_target
        evidence: dict[str, JSONValue] = {
            **context,
            "best": {**best.row(), "decoded_hex": bits_to_hex(best.decoded)},
            "table": [match.row() for match in matches],
            "tests": tests,
            "correction": "bonferroni",
            "fpr_target": self.fpr_target,
            "skipped": [p.name for p in self.payloads if p not in usable],
        }
        score = round(best.k / best.payload.n, 6)
        if positive:
            return self.verdict(
                sample, best.payload.name, True, score=score, p_value=best.p_corrected,
                evidence=evidence,
            )
        return self.not_found(sample, score=score, p_value=best.p_corrected, evidence=evidence)


@dataclass(frozen=True)
class _Match:
    """One payload compared with the bits decoded in one channel order."""

    payload: Payload
    order: str
    domain: str
    decoded: tuple[int, ...]
    k: int
    p_raw: float
    p_corrected: float

    @classmethod
    def compare(
        cls, payload: Payload, order: str, domain: str, decoded: tuple[int, ...], tests: int
    ) -> _Match:
        k = sum(a == b for a, b in zip(decoded, payload.bits, strict=True))
        p_raw = binomial_tail(k, payload.n)
        return cls(payload, order, domain, decoded, k, p_raw, bonferroni(p_raw, tests))

    def row(self) -> dict[str, JSONValue]:
        return {
            "payload": self.payload.name,
            "method": self.payload.method,
            "order": self.order,
            "domain": self.domain,
            "n": self.payload.n,
            "k": self.k,
            "bit_accuracy": round(self.k / self.payload.n, 6),
            "p_value": self.p_raw,
            "p_value_corrected": self.p_corrected,
        }


def _fpr_target(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WatermarkOptionsError("option 'fpr_target' must be a number in (0, 1)")
    target = float(value)
    if not 0.0 < target < 1.0:
        raise WatermarkOptionsError(f"option 'fpr_target' must be in (0, 1), got {value!r}")
    return target
