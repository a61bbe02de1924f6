"""Error-correcting codes on learned decoders' message bits: generic BCH and TrustMark's schemas.

A manifest's ``ecc`` says what the network's message bits are:

* ``"none"``: the bits are the payload.
* ``{"type": "bch", "t": T, "prim_poly": P, "data_bits": K}``: a systematic BCH codeword,
  ``K`` data bits then the code's ``m * t`` parity bits (``K + m*t`` must be the decoder's
  ``bits``). Encoding and decoding are ``bchlib`` (the Linux kernel's BCH library), not ours.
* ``"trustmark"``: Adobe TrustMark's 100-bit packet, data + BCH parity + 4 version bits whose
  last two name the schema (BCH_SUPER 40 data bits / 8 errors, BCH_5 61 / 5, BCH_4 68 / 4,
  BCH_3 75 / 3). Encoding and decoding are the ``trustmark`` package's own data layer
  (``trustmark.datalayer.DataLayer``), installed by the ``[trustmark]`` extra.

A registered payload of such a decoder is its *data* bits; :meth:`Codec.encode` expands it to
the codeword the network should read, and the detector tests the codeword bits (the hard or
soft test, whose null stays exact). :meth:`Codec.correct` then decodes the hard bits: with
``d`` corrected bits landing on the registered codeword, "correct, then match" has the
p-value ``P(Bin(n, 1/2) >= n - d)`` -- the hard test on the codeword -- so correction names
the schema and the corrected-bit count in evidence without changing the null.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from detectors.watermark.files import DecoderFileError

TRUSTMARK_BITS = 100
TRUSTMARK_POLY = 137
TRUSTMARK_SCHEMAS = {
    0: ("BCH_SUPER", 40, 8),
    1: ("BCH_5", 61, 5),
    2: ("BCH_4", 68, 4),
    3: ("BCH_3", 75, 3),
}
"""Version number -> (schema name, data bits, correctable errors), as TrustMark defines them."""


class EccError(DecoderFileError):
    """An ``ecc`` description is malformed or its library is missing."""


@dataclass(frozen=True)
class Correction:
    """What decoding one read codeword gave."""

    schema: str
    decoded: bool  # the decoder found a codeword within its correction radius
    corrected_bits: int | None  # bits flipped to reach it (None when not decoded)
    data: tuple[int, ...] | None  # the corrected data bits (None when not decoded)

    def evidence(self, payload_data: tuple[int, ...], with_data: bool) -> dict[str, Any]:
        """Evidence row: schema, corrected bits, whether it decoded to ``payload_data``."""
        row: dict[str, Any] = {
            "schema": self.schema,
            "decoded": self.decoded,
            "corrected_bits": self.corrected_bits,
            "payload_match": self.decoded and self.data == payload_data,
        }
        if with_data and self.data is not None:
            row["data_bits"] = "".join(map(str, self.data))
        return row


class Codec(Protocol):
    """A code over the decoder's message bits."""

    data_bits: tuple[int, ...]  # payload lengths it accepts
    spec: dict[str, Any]  # canonical description (hashed into verdict identity)

    def encode(self, data: tuple[int, ...]) -> tuple[int, ...]:
        """The codeword for ``data``."""
        ...

    def correct(self, bits: tuple[int, ...]) -> Correction:
        """Decode read hard bits."""
        ...


def _to_bytes(bits: tuple[int, ...] | list[int]) -> bytearray:
    padded = list(bits) + [0] * (-len(bits) % 8)
    return bytearray(int("".join(map(str, padded[i : i + 8])), 2) for i in range(0, len(padded), 8))


def _to_bits(data: bytes, count: int) -> tuple[int, ...]:
    return tuple(int(b) for b in "".join(format(x, "08b") for x in data)[:count])


class BchCodec:
    """Systematic BCH via ``bchlib``: ``data_bits`` then ``m * t`` parity bits."""

    def __init__(self, t: int, prim_poly: int, data_bits: int) -> None:
        try:
            import bchlib
        except ImportError as exc:
            raise EccError(
                "ecc 'bch' / 'trustmark' needs the bchlib package: "
                "pip install -c constraints.txt 'provreg[ecc]'"
            ) from exc
        try:
            self._bch = bchlib.BCH(t, prim_poly=prim_poly)
        except (ValueError, RuntimeError) as exc:
            raise EccError(f"ecc bch: t={t}, prim_poly={prim_poly}: {exc}") from exc
        self.t, self.prim_poly, self.k = t, prim_poly, data_bits
        self.parity = int(self._bch.ecc_bits)
        if 8 * -(-data_bits // 8) + self.parity > int(self._bch.n):
            raise EccError(
                f"ecc bch: {data_bits} data (padded to bytes) + {self.parity} parity "
                f"bits exceed the code length {self._bch.n}"
            )
        self.data_bits: tuple[int, ...] = (data_bits,)
        self.n = data_bits + self.parity
        self.spec: dict[str, Any] = {
            "type": "bch",
            "t": t,
            "prim_poly": prim_poly,
            "data_bits": data_bits,
        }

    def encode(self, data: tuple[int, ...]) -> tuple[int, ...]:
        """``data`` followed by its BCH parity bits."""
        ecc = self._bch.encode(bytes(_to_bytes(data)))
        return tuple(data) + _to_bits(ecc, self.parity)

    def correct(self, bits: tuple[int, ...]) -> Correction:
        """Correct up to ``t`` flipped bits of ``bits`` (data then parity)."""
        schema = f"BCH(t={self.t},poly={self.prim_poly})"
        data, ecc = _to_bytes(bits[: self.k]), _to_bytes(bits[self.k : self.n])
        flips = int(self._bch.decode(bytes(data), bytes(ecc)))
        if flips < 0:
            return Correction(schema, False, None, None)
        self._bch.correct(data, ecc)
        fixed = _to_bits(bytes(data), self.k)
        corrected = sum(a != b for a, b in zip(self.encode(fixed), bits, strict=True))
        return Correction(schema, True, corrected, fixed)


class TrustMarkCodec:
    """TrustMark's 100-bit packet: ``data | BCH parity | 4 version bits`` (96 + 4 bits).

    Written here rather than taken from ``trustmark.datalayer`` because the ``trustmark``
    package cannot be imported on this project's CPU torch (see ``detectors.watermark.resnet``).
    The layout follows that data layer (trustmark 0.9.2) exactly: data bits zero-padded to whole
    bytes are BCH-encoded (the Linux kernel code, primitive polynomial 137, ``t`` per schema);
    the packet is the data bits, the first ``96 - k`` parity bits and the version as 4 bits;
    a reader takes the schema from the last two. Tests check packets against ones the package's
    own data layer produced.
    """

    data_bits = tuple(sorted(k for _, k, _ in TRUSTMARK_SCHEMAS.values()))
    spec: dict[str, Any] = {"type": "trustmark"}

    def __init__(self) -> None:
        self._codes = {
            version: BchCodec(t, TRUSTMARK_POLY, k)
            for version, (_, k, t) in TRUSTMARK_SCHEMAS.items()
        }

    def version_for(self, data_bits: int) -> int:
        """The schema (version number) whose capacity is ``data_bits``."""
        for version, (_, k, _) in TRUSTMARK_SCHEMAS.items():
            if k == data_bits:
                return version
        raise EccError(f"TrustMark payloads have {list(self.data_bits)} data bits, not {data_bits}")

    def encode(self, data: tuple[int, ...]) -> tuple[int, ...]:
        """The 100-bit packet for ``data``; its length picks the schema."""
        version = self.version_for(len(data))
        codeword = self._codes[version].encode(data)
        return codeword + tuple(int(b) for b in format(version, "04b"))

    def correct(self, bits: tuple[int, ...]) -> Correction:
        """Read the schema from the version bits and correct the 96 data + parity bits."""
        version = 2 * bits[-2] + bits[-1]
        name = TRUSTMARK_SCHEMAS[version][0]
        fixed = self._codes[version].correct(bits[:96])
        return Correction(name, fixed.decoded, fixed.corrected_bits, fixed.data)


def parse_ecc(value: object, bits: int, where: str) -> Codec | None:
    """The codec an ``ecc`` manifest value describes (``None`` for ``"none"``)."""
    if value is None or value == "none":
        return None
    if value == "trustmark":
        if bits != TRUSTMARK_BITS:
            raise EccError(f"{where}: ecc 'trustmark' needs bits {TRUSTMARK_BITS}, not {bits}")
        return TrustMarkCodec()
    if isinstance(value, Mapping) and value.get("type") == "bch":
        if set(value) - {"type", "t", "prim_poly", "data_bits"}:
            raise EccError(f"{where}: ecc bch takes type, t, prim_poly, data_bits")
        t, poly, k = value.get("t"), value.get("prim_poly", 137), value.get("data_bits")
        for key, number in (("t", t), ("prim_poly", poly), ("data_bits", k)):
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise EccError(f"{where}: ecc bch '{key}' must be a positive integer")
        codec = BchCodec(int(t), int(poly), int(k))  # type: ignore[arg-type]
        if codec.n != bits:
            raise EccError(
                f"{where}: BCH codeword has {codec.n} bits ({k} data + "
                f"{codec.parity} parity), the decoder {bits}"
            )
        return codec
    raise EccError(
        f"{where}: ecc must be 'none', 'trustmark' or "
        "{'type': 'bch', 't', 'prim_poly', 'data_bits'}"
    )
