"""The ``watermark`` detector: public invisible-watermark marks, RivaGAN, learned decoders and
registered (possibly secret) payloads.

Every payload is tested on every image. dwt payloads are decoded in each channel order
(BGR, RGB) and each array type the payload lists (uint8; also float32 for SDXL); a learned
decoder's payload (``rivaGan``, or a decoder from a manifest) is one test, read from the
tile its manifest describes, all images of a batch in one forward pass.

Each test yields a raw p-value: by default (``statistic: "soft"``) the exact soft-decision
test of :mod:`detectors.watermark.soft` on the per-bit soft scores (dwtDct) or logits
(learned decoders); dwtDctSvd has no soft score and ``statistic: "hard"`` forces it
everywhere: the binomial tail ``P(Bin(n, 1/2) >= k)`` of ``k`` matching hard bits. With
``m`` tests on every image (8 with the built-ins; the count grows with each registered
payload), each raw p-value is Bonferroni-corrected (``min(1, m * p)``) and the verdict is
positive iff the best corrected p-value is at most ``fpr_target``; its label names the
payload that matched.

A negative verdict means "not found": dwt marks do not survive 4:2:0 JPEG, resizing or
cropping, and anyone with the public encoder can add them to any image (spoofable).
Secret payloads' bits never enter the evidence: the decoded bits are left out whenever
one is configured.

A decoder whose manifest names an error-correcting code (:mod:`detectors.watermark.ecc`) takes
payloads as data bits: each is expanded to its codeword, the test runs on the codeword bits, and
the row's ``ecc`` evidence gives the code's schema, whether the read bits decoded, how many
bits were corrected and whether they decoded to the payload.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from detectors.base import BASE_OPTIONS, Detector, JSONValue, Resources, Sample, Verdict
from detectors.watermark.decode import (
    MIN_PIXELS,
    ORDERS,
    BlockScores,
    band_height,
    block_count,
    decode_blocks,
)
from detectors.watermark.ecc import Codec
from detectors.watermark.files import DecoderFileError
from detectors.watermark.learned import (
    RIVAGAN,
    DecoderManifest,
    LearnedDecoder,
    fit_image,
    rivagan_manifest,
)
from detectors.watermark.match import PayloadMatch
from detectors.watermark.payloads import (
    BUILTIN_PAYLOADS,
    Payload,
    PayloadError,
    bits_to_hex,
    parse_payloads,
    table_digest,
)
from detectors.watermark.soft import soft_p_value
from detectors.watermark.stats import binomial_tail, bonferroni

DEFAULT_FPR_TARGET = 1e-6
DEFAULT_MAX_PIXELS = 1024 * 1024  # an SDXL frame; a 136-bit payload still gets 120 votes a bit
STATISTICS = ("soft", "hard")
LEARNED_RESOURCES = Resources(num_cpus=1.0, num_gpus=0.25, memory_mb=1536)
"""What one instance asks for when a learned decoder is configured."""
_CODE_VERSION = "2.0.0"
_OPTIONS = BASE_OPTIONS | frozenset(
    {
        "fpr_target",
        "payloads",
        "builtin",
        "max_pixels",
        "statistic",
        "decoders",
    }
)


class WatermarkOptionsError(PayloadError):
    """The detector's options are malformed; the message names the option."""


class WatermarkDetector(Detector):
    """Decodes SD v1 / v2 / SDXL marks, RivaGAN, learned decoders and registered payloads."""

    name: ClassVar[str] = "watermark"
    # The digest ties the version to the built-in payload table, default threshold and
    # statistic: editing any changes the version, so old and new verdicts stay apart.
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
        if (
            isinstance(max_pixels, bool)
            or not isinstance(max_pixels, int)
            or (max_pixels < MIN_PIXELS)
        ):
            raise WatermarkOptionsError(f"option 'max_pixels' must be an integer >= {MIN_PIXELS}")
        self.max_pixels = max_pixels
        self.statistic = self.options.get("statistic", "soft")
        if self.statistic not in STATISTICS:
            raise WatermarkOptionsError(f"option 'statistic' must be one of {STATISTICS}")
        self.manifests = _manifests(self.options.get("decoders", []))
        codecs = {m.name: m.codec for m in self.manifests.values()}
        self._codecs: dict[str, Codec] = {k: c for k, c in codecs.items() if c is not None}
        extra = parse_payloads(
            self.options.get("payloads", []),
            {m.name: m.payload_bits for m in self.manifests.values()},
        )
        self.payloads: tuple[Payload, ...] = (BUILTIN_PAYLOADS if builtin else ()) + extra
        if not self.payloads:
            raise WatermarkOptionsError("no payloads to look for: builtin is false and none given")
        used = {p.method for p in self.payloads if p.learned}
        if RIVAGAN in used:
            self.manifests.setdefault(RIVAGAN, rivagan_manifest())
        self.manifests = {k: v for k, v in self.manifests.items() if k in used}
        self._secret = any(p.secret for p in self.payloads)
        # Payloads of decoders with an ECC are data bits; the network reads their codewords.
        self._codewords = {
            p.name: self._codecs[p.method].encode(p.bits)
            for p in self.payloads
            if p.method in self._codecs
        }
        self._default = (
            builtin
            and not extra
            and self.fpr_target == DEFAULT_FPR_TARGET
            and self.statistic == "soft"
        )
        self._digest = table_digest(
            self.payloads,
            self.fpr_target,
            self.statistic,
            [m.as_json() for m in self.manifests.values()],
        )
        if self.manifests:
            # Learned decoders want a GPU: Ray actor pools request this share only on
            # clusters that have GPUs (ray_jobs.actors.actor_options), CPU otherwise.
            self.resources = LEARNED_RESOURCES  # type: ignore[misc]
        self._decoders: dict[str, LearnedDecoder] = {}
        self._batch_scores: dict[int, dict[str, np.ndarray | None]] = {}

    @property
    def model_checksum(self) -> str | None:
        """None with the default table; otherwise the SHA-256 of the configuration in force.

        Registered payloads (a secret one by its id, never its bits), decoder manifests
        (with their files' SHA-256), the threshold and the statistic change verdicts, so a
        non-default configuration is named in the verdict identity.
        """
        return None if self._default else self._digest

    @property
    def tests_per_image(self) -> int:
        """Bonferroni family size: dwt payloads in every channel order and array type, plus
        one test per learned-decoder payload."""
        return sum(1 if p.learned else len(p.domains) * len(ORDERS) for p in self.payloads)

    def load(self) -> None:
        """Hash-check and load every learned decoder a payload needs (a typed error if not)."""
        for name, manifest in self.manifests.items():
            if name not in self._decoders:
                self._decoders[name] = LearnedDecoder(manifest)
        super().load()

    @property
    def devices(self) -> dict[str, str]:
        """Where each loaded learned decoder runs (``cpu`` or ``cuda``)."""
        return {name: decoder.device for name, decoder in self._decoders.items()}

    def detect_batch(self, samples: Sequence[Sample]) -> list[Verdict]:
        """Run every learned decoder once over the batch, then judge each sample."""
        if not self._loaded:
            self.load()
        self._batch_scores = self._learned_scores(samples)
        try:
            return super().detect_batch(samples)
        finally:
            self._batch_scores = {}

    def _learned_scores(self, samples: Sequence[Sample]) -> dict[int, dict[str, np.ndarray | None]]:
        found: dict[int, dict[str, np.ndarray | None]] = {}
        for name, decoder in self._decoders.items():
            tiles: list[np.ndarray] = []
            owners: list[int] = []
            for sample in samples:
                slot = found.setdefault(id(sample), {})
                try:
                    tile = (
                        None if sample.image is None else fit_image(sample.image, decoder.manifest)
                    )
                except Exception:
                    continue  # judged (as an error) in detect_one, which re-reads the image
                slot[name] = None
                if tile is not None:
                    tiles.append(tile)
                    owners.append(id(sample))
            if tiles:
                scores = decoder.scores(np.stack(tiles))
                for owner, row in zip(owners, scores, strict=True):
                    found[owner][name] = row
        return found

    def _scores_for(self, sample: Sample, name: str) -> np.ndarray | None:
        cached = self._batch_scores.get(id(sample), {})
        if name in cached:
            return cached[name]
        if sample.image is None:
            return None
        decoder = self._decoders[name]
        tile = fit_image(sample.image, decoder.manifest)
        return None if tile is None else decoder.scores(tile[None])[0]

    def detect_one(self, sample: Sample) -> Verdict:
        if sample.image is None:
            return self.error(sample, "not-an-image", {"media_type": sample.media_type})
        if not self._loaded:
            self.load()
        width, height = sample.image.size
        size: dict[str, JSONValue] = {"width": width, "height": height}
        rows = band_height(height, width, self.max_pixels)
        blocks = block_count(rows, width) if height * width >= MIN_PIXELS else 0
        learned = {name: self._scores_for(sample, name) for name in self._decoders}
        usable = [
            p
            for p in self.payloads
            if (learned.get(p.method) is not None if p.learned else p.n <= blocks)
        ]
        if not usable:
            return self.not_found(
                sample,
                evidence={
                    **size,
                    "reason": "too-small",
                    "detail": (
                        f"invisible-watermark marks need at least {MIN_PIXELS} pixels and one "
                        "4x4 block per payload bit, learned decoders their input size; this "
                        "image is too small to carry any mark looked for"
                    ),
                },
            )
        decoded: dict[tuple[str, str, str], BlockScores] = {}
        wanted = sorted({(p.method, d) for p in usable if not p.learned for d in p.domains})
        if wanted:
            # Convert only the band we decode: large uploads need not be expanded whole.
            top = sample.image if rows == height else sample.image.crop((0, 0, width, rows))
            band = np.asarray(top.convert("RGB"), dtype=np.uint8)
            for method, domain in wanted:
                for order in ORDERS:
                    decoded[method, order, domain] = decode_blocks(band, method, order, domain)
        matches: list[PayloadMatch] = []
        for payload in usable:
            if payload.learned:
                matches.append(self._match(payload, "-", "-", learned[payload.method], None))
                continue
            for domain in payload.domains:
                for order in ORDERS:
                    found = decoded[payload.method, order, domain]
                    matches.append(
                        self._match(
                            payload,
                            order,
                            domain,
                            found.fold_soft(payload.n),
                            found.fold(payload.n),
                        )
                    )
        return self._judge(sample, matches, {**size, "decoded_rows": rows}, usable)

    def _match(
        self,
        payload: Payload,
        order: str,
        domain: str,
        soft: np.ndarray | None,
        hard: tuple[int, ...] | None,
    ) -> PayloadMatch:
        if hard is None:
            if soft is None:
                raise ValueError(f"no decode for payload {payload.name!r}")
            hard = tuple(int(v > 0) for v in soft)
        bits = self._codewords.get(payload.name, payload.bits)
        k = sum(a == b for a, b in zip(hard, bits, strict=True))
        p_hard = binomial_tail(k, len(bits))
        p_soft, agreement = soft_p_value(soft, bits) if soft is not None else (None, None)
        p_raw = p_soft if self.statistic == "soft" and p_soft is not None else p_hard
        ecc = None
        if payload.method in self._codecs:
            fixed = self._codecs[payload.method].correct(hard)
            ecc = fixed.evidence(payload.bits, with_data=not self._secret)
        return PayloadMatch(
            payload,
            order,
            domain,
            hard,
            k,
            p_hard,
            p_soft,
            agreement,
            p_raw,
            bonferroni(p_raw, self.tests_per_image),
            len(bits),
            ecc,
        )

    def _judge(
        self,
        sample: Sample,
        matches: list[PayloadMatch],
        context: dict[str, JSONValue],
        usable: list[Payload],
    ) -> Verdict:
        # Smallest raw p wins; ties go to the earlier row (table order).
        best = min(enumerate(matches), key=lambda item: (item[1].p_raw, item[0]))[1]
        positive = best.p_corrected <= self.fpr_target
        best_row = best.row()
        if not self._secret:
            best_row["decoded_hex"] = bits_to_hex(best.decoded)
        evidence: dict[str, JSONValue] = {
            **context,
            "best": best_row,
            "table": [match.row() for match in matches],
            "tests": self.tests_per_image,
            "statistic": self.statistic,
            "correction": "bonferroni",
            "fpr_target": self.fpr_target,
            "skipped": [p.name for p in self.payloads if p not in usable],
        }
        score = round(best.k / best.n, 6)
        if positive:
            return self.verdict(
                sample,
                best.payload.name,
                True,
                score=score,
                p_value=best.p_corrected,
                evidence=evidence,
            )
        return self.not_found(sample, score=score, p_value=best.p_corrected, evidence=evidence)


def _manifests(entries: object) -> dict[str, DecoderManifest]:
    if not isinstance(entries, Sequence) or isinstance(entries, str | bytes):
        raise WatermarkOptionsError("option 'decoders' must be a list of decoder manifests")
    found: dict[str, DecoderManifest] = {}
    for entry in entries:
        if not isinstance(entry, Mapping):
            raise WatermarkOptionsError("option 'decoders': each entry must be a manifest object")
        manifest = DecoderManifest.from_mapping(entry)
        if manifest.name in found or manifest.name in ("dwtDct", "dwtDctSvd", RIVAGAN):
            raise DecoderFileError(f"decoder name {manifest.name!r} is already taken")
        found[manifest.name] = manifest
    return found


def _fpr_target(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WatermarkOptionsError("option 'fpr_target' must be a number in (0, 1)")
    target = float(value)
    if not 0.0 < target < 1.0:
        raise WatermarkOptionsError(f"option 'fpr_target' must be in (0, 1), got {value!r}")
    return target
