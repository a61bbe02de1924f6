"""Bad weight files fail at load with a typed error, and the detector answers every sample
with an error verdict naming it (an ingest never crashes on a bad model)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from detectors.learned.archs import build
from detectors.learned.errors import (
    ModelChecksumError,
    ModelFormatError,
    ModelInputError,
    StateDictMismatchError,
)
from detectors.learned.runtime import load_runner
from detectors.synthetic.detector import SyntheticDetector
from detectors.testing.conformance import noise_image, sample_from_image
from registry.models import ModelFileError, ModelStore


def onnx_mean_model(path: Path, shape: list[Any]) -> Path:
    """An ONNX graph: the mean of its NCHW input per item (input shape as given)."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [shape[0], 1, 1, 1])
    node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=1)
    axes = helper.make_tensor("axes", TensorProto.INT64, [3], [1, 2, 3])
    graph = helper.make_graph([node], "mean", [x], [y], initializer=[axes])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _npr_file(tmp_path: Path, state: dict[str, torch.Tensor] | None = None) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "npr.pth"
    torch.save(state if state is not None else build("npr_tiny").state_dict(), path)
    return path


def _store_and_spec(tmp_path: Path, file: Path, **kw: Any) -> Any:
    store = ModelStore(tmp_path / "models")
    kw.setdefault("architecture", "npr_tiny")
    store.add("m", file, kind="synthetic", **kw)
    return store, store.resolve("m")


def _detector_error(spec: Any) -> dict[str, Any]:
    detector = SyntheticDetector({"model": spec.to_options()})
    verdicts = detector.detect_batch(
        [sample_from_image(noise_image(1, (80, 80))), sample_from_image(noise_image(2, (80, 80)))]
    )
    assert all(v.error == "model-load-failed" and not v.positive for v in verdicts)
    assert all(v.label == "error" for v in verdicts)
    return verdicts[0].evidence


def test_wrong_sha256_is_refused_at_add(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models")
    with pytest.raises(ModelFileError, match="SHA-256"):
        store.add("m", _npr_file(tmp_path), kind="synthetic", sha256="0" * 64)
    assert store.entries() == []


def test_a_blob_altered_after_add_is_refused_at_load(tmp_path: Path) -> None:
    _, spec = _store_and_spec(tmp_path, _npr_file(tmp_path))
    blob = Path(spec.path)
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(ModelChecksumError, match="pins"):
        load_runner(spec)
    assert _detector_error(spec)["exception"] == "ModelChecksumError"


@pytest.mark.parametrize("suffix", ["pth", "safetensors"])
def test_truncated_weight_file(tmp_path: Path, suffix: str) -> None:
    from safetensors.torch import save_file

    path = tmp_path / f"npr.{suffix}"
    state = build("npr_tiny").state_dict()
    if suffix == "pth":
        torch.save(state, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _, spec = _store_and_spec(tmp_path, path)
    with pytest.raises(ModelFormatError):
        load_runner(spec)
    assert _detector_error(spec)["exception"] == "ModelFormatError"


def test_a_pickle_that_is_not_a_state_dict(tmp_path: Path) -> None:
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(3), "not a tensor"], path)
    _, spec = _store_and_spec(tmp_path, path)
    with pytest.raises(ModelFormatError, match="not a state dict"):
        load_runner(spec)


class _Payload:
    """Unpickling this would create a file."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.target, "w"))


def test_a_pickle_payload_never_runs(tmp_path: Path) -> None:
    target = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"conv1.weight": _Payload(str(target))}))
    _, spec = _store_and_spec(tmp_path, path)
    with pytest.raises(ModelFormatError):
        load_runner(spec)
    evidence = _detector_error(spec)
    assert evidence["exception"] == "ModelFormatError"
    assert not target.exists()
    # the same payload inside a torch zip archive
    torch_path = tmp_path / "evil-zip.pth"
    torch.save({"x": torch.zeros(1)}, torch_path)
    import zipfile

    with zipfile.ZipFile(torch_path) as archive:
        names = archive.namelist()
        contents = {n: archive.read(n) for n in names}
    pkl = next(n for n in names if n.endswith("data.pkl"))
    contents[pkl] = pickle.dumps({"x": _Payload(str(target))})
    with zipfile.ZipFile(torch_path, "w") as archive:
        for name in names:
            archive.writestr(name, contents[name])
    _, spec = _store_and_spec(tmp_path / "2", torch_path)
    with pytest.raises(ModelFormatError):
        load_runner(spec)
    assert not target.exists()


def test_missing_and_unexpected_keys_are_named(tmp_path: Path) -> None:
    state = build("npr_tiny").state_dict()
    del state["fc1.weight"]
    state["head.extra"] = torch.zeros(2)
    _, spec = _store_and_spec(tmp_path, _npr_file(tmp_path, state))
    with pytest.raises(StateDictMismatchError) as info:
        load_runner(spec)
    assert info.value.missing == ["fc1.weight"]
    assert info.value.unexpected == ["head.extra"]
    assert "fc1.weight" in _detector_error(spec)["message"]


def test_wrong_shapes_are_named(tmp_path: Path) -> None:
    state = build("npr_tiny", {"width": 8}).state_dict()
    _, spec = _store_and_spec(tmp_path, _npr_file(tmp_path, state))
    with pytest.raises(StateDictMismatchError, match="shape mismatches"):
        load_runner(spec)


def test_onnx_graph_with_the_wrong_input_shape(tmp_path: Path) -> None:
    path = onnx_mean_model(tmp_path / "bad.onnx", ["N", 3, 32, 32])
    store = ModelStore(tmp_path / "models")
    store.add("m", path, kind="synthetic", card={"preprocess": {"input_size": 64}})
    spec = store.resolve("m")
    with pytest.raises(ModelInputError, match=r"\[N, 3, 64, 64\]"):
        load_runner(spec)
    assert _detector_error(spec)["exception"] == "ModelInputError"


def test_no_model_means_unavailable_never_not_found() -> None:
    detector = SyntheticDetector({})
    verdicts = detector.detect_batch([sample_from_image(noise_image(3))])
    assert verdicts[0].error == "model-unavailable"
    assert verdicts[0].label == "error" and not verdicts[0].positive
    assert "provreg models add" in str(verdicts[0].evidence["message"])


def test_small_images_are_padded_with_a_reason_or_refused(tmp_path: Path) -> None:
    _, spec = _store_and_spec(tmp_path, _npr_file(tmp_path))
    detector = SyntheticDetector({"model": spec.to_options()})
    small, tiny = noise_image(4, (40, 30)), noise_image(5, (10, 10))
    padded, refused = detector.detect_batch([sample_from_image(small), sample_from_image(tiny)])
    assert padded.error is None and padded.evidence["padded"]["original_size"] == [40, 30]
    assert refused.error == "too-small" and "10x10" in str(refused.evidence["message"])
    assert np.isfinite(padded.score or 0.0)
