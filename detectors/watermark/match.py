"""The watermark detector's record of one payload compared with one decode of an image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detectors.base import JSONValue
from detectors.watermark.payloads import Payload


@dataclass(frozen=True)
class PayloadMatch:
    """One payload compared with what one decode read from the image."""

    payload: Payload
    order: str
    domain: str
    decoded: tuple[int, ...]
    k: int
    p_hard: float
    p_soft: float | None
    agreement: float | None
    p_raw: float
    p_corrected: float
    n: int  # bits tested: the payload's, or its codeword's
    ecc: dict[str, Any] | None = None

    def row(self) -> dict[str, JSONValue]:
        row: dict[str, JSONValue] = {
            "payload": self.payload.name,
            "method": self.payload.method,
            "order": self.order,
            "domain": self.domain,
            "n": self.n,
            "k": self.k,
            "bit_accuracy": round(self.k / self.n, 6),
            "p_value": self.p_raw,
            "p_value_corrected": self.p_corrected,
            "p_value_hard": self.p_hard,
            "p_value_soft": self.p_soft,
            "soft_agreement": None if self.agreement is None else round(self.agreement, 6),
        }
        if self.ecc is not None:
            row["ecc"] = self.ecc
        return row
