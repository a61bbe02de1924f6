"""Watermark payloads: the built-in table of public marks and user-registered ones.

A payload is a named bit string and the invisible-watermark method that carries it. The
built-in table holds the marks the reference text-to-image pipelines embed with
``imwatermark.WatermarkEncoder`` and method ``dwtDct``:

- ``sd-v1``: bytes ``StableDiffusionV1`` (136 bits), CompVis ``scripts/txt2img.py``;
- ``sd-v2``: bytes ``SDV2`` (32 bits), Stability ``stablediffusion`` ``scripts/txt2img.py``;
- ``sdxl``: the 48 bits of ``0xB3EC907BB19E``, Stability ``generative-models`` and diffusers'
  ``StableDiffusionXLWatermarker``. Both embed on float32 arrays (BGR; diffusers 0.18.x passed
  RGB), so ``sdxl`` is decoded from uint8 and float32 arrays.

User payloads come from the detector's ``payloads`` option (see :func:`parse_payloads`):
dwtDct / dwtDctSvd marks, RivaGAN marks (``rivaGan``, 32 bits, read by the learned decoder
invisible-watermark ships) and marks of any learned decoder named in the ``decoders``
option. A payload registered through ``provreg watermark add`` is *secret*: it carries an
``id`` (a fingerprint the registry derives with its own key) that stands in for its bits
wherever the configuration is hashed, so verdict identity never exposes the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.watermark.stats import binomial_tail

METHODS = ("dwtDct", "dwtDctSvd", "rivaGan")
"""Methods of invisible-watermark this detector decodes. ``rivaGan`` runs the ONNX decoder
the package ships (``imwatermark/rivagan_decoder.onnx``, pinned by SHA-256 in
:mod:`detectors.watermark.learned`); further learned decoders come from manifests."""
DWT_METHODS = ("dwtDct", "dwtDctSvd")
"""Methods read from the block grid (decoded per channel order and array type)."""

DOMAINS = ("uint8", "float32")
"""Array type handed to the encoder. OpenCV's YUV conversion differs between them (chroma
offset 128 for uint8, 0.5 for float32), so a mark embedded on a float32 array (diffusers and
generative-models do this for SDXL) is read most reliably from a float32 array too."""

MIN_BITS = 16
MAX_BITS = 1024
MIN_CONSTANT_DECODE_P = 0.01
"""How unremarkable a constant decode must look against a user payload.

Near-grey and flat regions decode to zero bits and majority voting amplifies that bias, so
many clean images decode to (nearly) all zeros. If the decoded bits lean one way, a payload
with as many zeros as ones still matches half its bits on average; a lopsided payload
matches more. We therefore refuse payloads for which an all-zeros or all-ones decode would
reach a raw p-value below this bound (see :func:`constant_decode_p`).
"""


class PayloadError(ValueError):
    """A payload option is malformed; the message says which entry and why."""


@dataclass(frozen=True)
class Payload:
    """A named bit string carried by one invisible-watermark method."""

    name: str
    bits: tuple[int, ...]
    method: str = "dwtDct"
    domains: tuple[str, ...] = ("uint8",)
    secret: bool = False
    key_id: str | None = None

    @property
    def n(self) -> int:
        """Number of payload bits."""
        return len(self.bits)

    @property
    def learned(self) -> bool:
        """Read by a learned decoder network rather than from the dwt block grid."""
        return self.method not in DWT_METHODS

    def as_json(self) -> dict[str, Any]:
        """A canonical description (name, method, bits as a 0/1 string; a secret payload's
        ``id`` in place of its bits)."""
        return {
            "name": self.name,
            "method": self.method,
            "bits": f"secret:{self.key_id}" if self.secret else bits_to_str(self.bits),
            "domains": list(self.domains),
        }


def _from_bytes(data: bytes) -> tuple[int, ...]:
    return tuple((byte >> shift) & 1 for byte in data for shift in range(7, -1, -1))


def _from_int(value: int) -> tuple[int, ...]:
    # bin(x)[2:], exactly as generative-models and diffusers build the SDXL bit list.
    return tuple(int(bit) for bit in bin(value)[2:])


BUILTIN_PAYLOADS: tuple[Payload, ...] = (
    Payload("sd-v1", _from_bytes(b"StableDiffusionV1")),
    Payload("sd-v2", _from_bytes(b"SDV2")),
    Payload("sdxl", _from_int(0xB3EC907BB19E), domains=DOMAINS),
)


def bits_to_str(bits: Sequence[int]) -> str:
    """Bits as a ``0``/``1`` string."""
    return "".join("1" if bit else "0" for bit in bits)


def bits_to_hex(bits: Sequence[int]) -> str:
    """Bits as hex, most significant first, zero-padded at the end to whole nibbles."""
    padded = list(bits) + [0] * (-len(bits) % 4)
    return "".join(
        format(int(bits_to_str(padded[i : i + 4]), 2), "x") for i in range(0, len(padded), 4)
    )


def parse_bits(text: str) -> tuple[int, ...]:
    """Parse ``0x``-prefixed hex (4 bits per digit) or a ``0``/``1`` string (``0b`` optional)."""
    spec = text.strip().replace("_", "")
    if spec[:2].lower() == "0x":
        digits = spec[2:]
        try:
            int(digits, 16)
        except ValueError:
            raise PayloadError(f"bits {text!r}: not a hex number after 0x") from None
        return tuple(int(bit) for digit in digits for bit in format(int(digit, 16), "04b"))
    if spec[:2].lower() == "0b":
        spec = spec[2:]
    if not spec or set(spec) - {"0", "1"}:
        raise PayloadError(f"bits {text!r}: write hex with a 0x prefix or give a string of 0 and 1")
    return tuple(int(bit) for bit in spec)


def parse_payloads(
    entries: object, decoders: Mapping[str, int | tuple[int, ...]] | None = None
) -> tuple[Payload, ...]:
    """Validate the ``payloads`` option: a list of ``{"name", "bits", "method"?, "domains"?,
    "secret"?, "id"?}``.

    ``method`` defaults to ``dwtDct``; ``domains`` (a list drawn from :data:`DOMAINS`) to
    ``["uint8"]`` (dwt methods only). ``decoders`` maps each learned decoder's name to its
    message length (``rivaGan``: 32), or the data lengths its error-correcting code takes;
    a learned payload must have exactly (one of) that many bits.
    ``secret: true`` needs an ``id`` (see the module docstring).
    """
    learned: dict[str, int | tuple[int, ...]] = {"rivaGan": 32, **(decoders or {})}
    if not isinstance(entries, Sequence) or isinstance(entries, str | bytes):
        raise PayloadError("option 'payloads' must be a list of {name, bits, method} objects")
    payloads: list[Payload] = []
    seen = {payload.name for payload in BUILTIN_PAYLOADS}
    for index, entry in enumerate(entries):
        where = f"payloads[{index}]"
        if not isinstance(entry, Mapping):
            raise PayloadError(f"{where}: must be an object with name and bits")
        unknown = set(entry) - {"name", "bits", "method", "domains", "secret", "id"}
        if unknown:
            raise PayloadError(f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
        name, bits_text = entry.get("name"), entry.get("bits")
        method = entry.get("method", "dwtDct")
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise PayloadError(f"{where}: 'name' must be a non-empty string without spaces around")
        if name in seen or name in ("not-found", "error"):
            raise PayloadError(f"{where}: name {name!r} is already taken")
        if not isinstance(bits_text, str):
            raise PayloadError(f"{where}: 'bits' must be a string (0x-hex or 0/1)")
        if method not in DWT_METHODS and method not in learned:
            raise PayloadError(
                f"{where}: method {method!r} unsupported; use one of "
                f"{(*DWT_METHODS, *sorted(learned))}"
            )
        secret, key_id = entry.get("secret", False), entry.get("id")
        if not isinstance(secret, bool) or (secret and (not isinstance(key_id, str) or not key_id)):
            raise PayloadError(f"{where}: 'secret' must be true or false; a secret needs an 'id'")
        domains = entry.get("domains", ["uint8"])
        if (
            not isinstance(domains, Sequence)
            or isinstance(domains, str)
            or not domains
            or set(domains) - set(DOMAINS)
            or len(set(domains)) != len(domains)
        ):
            raise PayloadError(f"{where}: 'domains' must be a non-empty list drawn from {DOMAINS}")
        try:
            bits = parse_bits(bits_text)
        except PayloadError as exc:
            raise PayloadError(f"{where}: {exc}") from None
        if not MIN_BITS <= len(bits) <= MAX_BITS:
            raise PayloadError(f"{where}: {len(bits)} bits; need {MIN_BITS} to {MAX_BITS}")
        reads = learned.get(str(method))
        if reads is not None and len(bits) not in (reads if isinstance(reads, tuple) else (reads,)):
            raise PayloadError(f"{where}: {len(bits)} bits, but decoder {method!r} reads {reads}")
        worst = constant_decode_p(bits)
        if worst < MIN_CONSTANT_DECODE_P:
            raise PayloadError(
                f"{where}: {sum(bits)} ones in {len(bits)} bits is too lopsided: a flat image "
                f"(which decodes to all zeros) would match with p = {worst:.2g}; use a payload "
                "with about as many ones as zeros"
            )
        seen.add(name)
        ordered = tuple(d for d in DOMAINS if d in domains) if method in DWT_METHODS else ("uint8",)
        payloads.append(
            Payload(name, bits, str(method), ordered, secret, str(key_id) if secret else None)
        )
    return tuple(payloads)


def constant_decode_p(bits: Sequence[int]) -> float:
    """Raw p-value an all-zeros or all-ones decode would score against ``bits`` (the smaller)."""
    ones = sum(bits)
    return binomial_tail(max(ones, len(bits) - ones), len(bits))


def table_digest(
    payloads: Sequence[Payload],
    fpr_target: float,
    statistic: str = "soft",
    decoders: Sequence[Mapping[str, Any]] = (),
) -> str:
    """SHA-256 of the configuration verdicts depend on: payload table (secret payloads by
    id), threshold, statistic and learned-decoder manifests (with their files' SHA-256)."""
    canonical = json.dumps(
        {
            "payloads": [p.as_json() for p in payloads],
            "fpr_target": repr(fpr_target),
            "statistic": statistic,
            "decoders": list(decoders),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
