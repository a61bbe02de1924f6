"""model.watermark on digits models trained with an Uchida regulariser and a WaterMAS-style
key: verified after fine-tuning, pruning and int8 quantisation; not found on models of the
same architecture from other seeds; keys never in evidence."""

from __future__ import annotations

import json

import pytest

from detectors.base import NOT_FOUND, Sample
from detectors.model.detector import ModelWatermarkDetector
from detectors.model.tensors import SAFETENSORS
from detectors.model.weight_marks import WeightKeyError, parse_key
from detectors.testing import model_fixtures as mf


def _attacked(arch: str, state: mf.State) -> dict[str, mf.State]:
    return {
        "as trained": state,
        "fine-tuned": mf.fine_tune(arch, state, 21),
        "pruned-20": mf.prune(state, 0.2),
        "int8": mf.quantise_int8(state),
    }


def _verdicts(detector: ModelWatermarkDetector, states: dict[str, mf.State]) -> dict[str, object]:
    samples = [
        Sample(sha256=name, data=mf.safetensors_bytes(s), media_type=SAFETENSORS)
        for name, s in states.items()
    ]
    return {v.asset_sha256: v for v in detector.detect_batch(samples)}


@pytest.mark.parametrize("arch", ["mlp", pytest.param("cnn", marks=pytest.mark.slow)])
def test_uchida_and_watermas_survive_attacks_and_stay_silent_on_nulls(arch: str) -> None:
    uchida, watermas = mf.uchida_key(arch, 7), mf.watermas_key(arch, 8)
    detector = ModelWatermarkDetector({"keys": [uchida, watermas]})
    for key in (uchida, watermas):
        marked = mf.train(arch, 1, key)
        assert mf.accuracy(arch, marked) > 0.9
        for attack, verdict in _verdicts(detector, _attacked(arch, marked)).items():
            assert verdict.positive and verdict.label == key["name"], (key["method"], attack)  # type: ignore[attr-defined]
            assert verdict.p_value is not None and verdict.p_value <= 1e-6  # type: ignore[attr-defined]
            text = json.dumps(verdict.evidence)  # type: ignore[attr-defined]
            for secret in (uchida["bits"], watermas["bits"], "positions", '"seed"'):
                assert secret not in text
    nulls = {f"seed-{s}": mf.train(arch, 100 + s) for s in range(3)}
    for name, verdict in _verdicts(detector, nulls).items():
        assert verdict.label == NOT_FOUND and not verdict.positive, name  # type: ignore[attr-defined]
        results = verdict.evidence["results"]  # type: ignore[attr-defined]
        assert all(r["p_value_corrected"] > 1e-6 for r in results)


def test_a_key_whose_layer_is_absent_is_reported_not_guessed() -> None:
    key = mf.uchida_key("mlp", 7) | {"layer": "decoder.weight"}
    detector = ModelWatermarkDetector({"keys": [key]})
    (verdict,) = detector.detect_batch(
        [
            Sample(
                sha256="x",
                data=mf.safetensors_bytes(mf.train("mlp", 1, steps=2)),
                media_type=SAFETENSORS,
            )
        ]
    )
    assert verdict.label == NOT_FOUND
    assert verdict.evidence["results"][0]["layer_found"] is False  # type: ignore[index,call-overload]


def test_bad_keys_are_refused_without_echoing_bits() -> None:
    key = mf.watermas_key("mlp", 1)
    with pytest.raises(WeightKeyError) as caught:
        parse_key(key | {"positions": key["positions"][:-1]})
    assert key["bits"] not in str(caught.value)
    with pytest.raises(WeightKeyError, match="16 to 1024 bits"):
        parse_key(mf.uchida_key("mlp", 1, bits=8))
