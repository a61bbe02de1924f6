"""The detector contract for model.lineage and model.watermark, on honest digits models."""

from __future__ import annotations

import functools
from typing import Any

from detectors.base import Sample
from detectors.model.detector import ModelLineageDetector, ModelWatermarkDetector
from detectors.model.manifest import fingerprint
from detectors.model.tensors import SAFETENSORS
from detectors.testing import model_fixtures as mf
from detectors.testing.conformance import DetectorConformance


@functools.cache
def _models() -> dict[str, mf.State]:
    key = mf.uchida_key("mlp", 7)
    base = mf.train("mlp", 1, key)
    return {"base": base, "tuned": mf.fine_tune("mlp", base, 4), "other": mf.train("mlp", 2)}


def _sample(name: str) -> Sample:
    return Sample(
        sha256=name.ljust(64, "0")[:64].encode().hex()[:64],
        data=mf.safetensors_bytes(_models()[name]),
        media_type=SAFETENSORS,
    )


def _bad() -> list[Sample]:
    header = b'{"w": {"dtype": "F32", "shape": [9], "data_offsets": [0, 36]}}'
    return [
        Sample(sha256="a" * 64, data=b"", media_type=SAFETENSORS),
        Sample(
            sha256="b" * 64, data=len(header).to_bytes(8, "little") + header, media_type=SAFETENSORS
        ),
        Sample(sha256="c" * 64, data=b"\x89PNG\r\n\x1a\n", media_type="image/png"),
    ]


class TestModelLineageConformance(DetectorConformance):
    detector_class = ModelLineageDetector

    @property
    def options(self) -> dict[str, Any]:  # type: ignore[override]
        prints = [fingerprint(t).as_json() for t in mf.tensors_of(_models()["base"])]
        return {"references": [{"name": "digits-base", "tensors": prints}]}

    def positive_examples(self) -> list[tuple[Sample, str]]:
        return [(_sample("base"), "exact"), (_sample("tuned"), "derived")]

    def negative_examples(self) -> list[Sample]:
        return [_sample("other")]

    def bad_examples(self) -> list[Sample]:
        return _bad()


class TestModelWatermarkConformance(DetectorConformance):
    detector_class = ModelWatermarkDetector
    options = {"keys": [mf.uchida_key("mlp", 7)]}

    def positive_examples(self) -> list[tuple[Sample, str]]:
        return [(_sample("base"), "owner-uchida"), (_sample("tuned"), "owner-uchida")]

    def negative_examples(self) -> list[Sample]:
        return [_sample("other")]

    def bad_examples(self) -> list[Sample]:
        return _bad()
