"""Model files at intake: safe parsing of safetensors, PyTorch and ONNX, model folders as one
asset, and hostile files as clear errors that never execute code."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from detectors.base import Sample
from detectors.model import sniff_model
from detectors.model.detector import ModelLineageDetector
from detectors.model.load import load_tensors
from detectors.model.manifest import fingerprint, manifest_digest
from detectors.model.safetensors_format import serialize
from detectors.model.tensors import ONNX, PICKLE, PYTORCH_ZIP, SAFETENSORS, Tensor
from registry.intake.pipeline import (
    ERROR_REASONS,
    IntakeLimits,
    intake_bytes,
    intake_path,
    iter_media_paths,
)

LIMITS = IntakeLimits()


def _state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {
        "fc.weight": torch.randn(4, 3),
        "fc.bias": torch.randn(4),
        "emb": torch.randn(5, 2).to(torch.bfloat16),
        "steps": torch.tensor([7]),
    }


def _safetensors(state: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    return save(state)


def _torch(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _header(header: dict[str, object], body: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + body


def test_formats_are_sniffed_by_content_and_hash_alike() -> None:
    state = _state()
    st, pt = _safetensors(state), _torch(state)
    assert sniff_model(st[:4096]) == SAFETENSORS
    assert sniff_model(pt[:4096]) == PYTORCH_ZIP
    assert sniff_model(pickle.dumps({"a": 1})) == PICKLE
    assert sniff_model(b"\x89PNG\r\n\x1a\n") is None
    from_st = [fingerprint(t) for t in load_tensors(st, SAFETENSORS)]
    from_pt = [fingerprint(t) for t in load_tensors(pt, PYTORCH_ZIP)]
    assert manifest_digest(from_st) == manifest_digest(from_pt)  # one canonical byte form
    result = intake_bytes(st, LIMITS, path="m.png")  # the name decides nothing
    assert result.ok and result.media_type == SAFETENSORS and result.sample is not None
    assert result.sample.image is None


def test_onnx_initializers_are_read_and_external_data_refused() -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["w"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])],
        initializer=[weight],
    )
    data = helper.make_model(graph).SerializeToString()
    assert sniff_model(data[:4096]) == ONNX
    (tensor,) = load_tensors(data, ONNX)
    assert (tensor.name, tensor.dtype, tensor.shape) == ("w", "F32", (2, 3))
    weight.ClearField("raw_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    entry = weight.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    graph.initializer[0].CopyFrom(weight)
    outside = helper.make_model(graph).SerializeToString()
    result = intake_bytes(outside, LIMITS)
    assert result.error == "unsupported-format" and "external" in (result.error_detail or "")


class _Plant:
    """Unpickling this would create ``path`` (if anything ever executed it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def _hostile(tmp_path: Path) -> dict[str, tuple[bytes, str]]:
    f32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    return {
        "raw pickle with code": (pickle.dumps(_Plant(tmp_path / "raw")), "unsafe-pickle"),
        "torch zip with code": (_torch({"w": _Plant(tmp_path / "zip")}), "unsafe-pickle"),
        "header claims a terabyte": (
            (2**40).to_bytes(8, "little") + b'{"a": {}}' + bytes(64),
            "corrupt",
        ),
        "overlapping offsets": (
            _header(
                {"a": f32, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)
            ),
            "corrupt",
        ),
        "10 GB tensor in 1 kB": (
            _header(
                {
                    "a": {
                        "dtype": "F32",
                        "shape": [2_500_000_000],
                        "data_offsets": [0, 10_000_000_000],
                    }
                },
                bytes(900),
            ),
            "truncated",
        ),
        "shape disagrees with offsets": (
            _header({"a": {"dtype": "F32", "shape": [10], "data_offsets": [0, 8]}}, bytes(8)),
            "corrupt",
        ),
        "NaN flood": (
            serialize([Tensor("w", "F32", (64,), np.full(64, np.nan, "<f4").tobytes())]),
            "non-finite-weights",
        ),
        "header not JSON": (b"\x10\x00\x00\x00\x00\x00\x00\x00{ not json here!", "corrupt"),
    }


def test_hostile_model_files_are_clear_errors_and_nothing_executes(tmp_path: Path) -> None:
    hostile = _hostile(tmp_path)
    for label, (data, reason) in hostile.items():
        result = intake_bytes(data, LIMITS, path=label)
        assert result.error == reason, (label, result.error, result.error_detail)
        assert reason in ERROR_REASONS
    # The detector, handed the same bytes directly, judges each and the batch goes on.
    good = _safetensors(_state())
    samples = [
        Sample(sha256=str(i), data=data, media_type=sniff_model(data[:4096]) or "")
        for i, (data, _) in enumerate(hostile.values())
    ]
    samples.append(Sample(sha256="good", data=good, media_type=SAFETENSORS))
    verdicts = ModelLineageDetector().detect_batch(samples)
    assert [v.error for v in verdicts[:-1]] == [reason for _, reason in hostile.values()]
    assert verdicts[-1].error is None and verdicts[-1].evidence["manifest"]["tensor_count"] == 4
    assert not (tmp_path / "raw").exists() and not (tmp_path / "zip").exists()
    pickle.loads(pickle.dumps(_Plant(tmp_path / "control")))  # the plant works when unpickled
    assert (tmp_path / "control").exists()


def test_a_peft_folder_is_one_content_addressed_asset(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    copies = []
    for name in ("one", "two"):
        folder = tmp_path / "uploads" / name
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text('{"r": 4, "peft_type": "LORA"}')
        torch.manual_seed(1)
        save_file(
            {
                "base_model.model.fc1.lora_A.weight": torch.randn(4, 64),
                "base_model.model.fc1.lora_B.weight": torch.randn(64, 4),
            },
            str(folder / "adapter_model.safetensors"),
        )
        (folder / "README.md").write_text(f"copy {name}")  # not part of the asset
        copies.append(folder)
    walked = list(iter_media_paths([tmp_path / "uploads"]))
    assert walked == copies  # each folder once, its files not separately
    first, second = (intake_path(folder, LIMITS) for folder in copies)
    assert first.ok and second.ok and first.sha256 == second.sha256
    assert first.media_type == SAFETENSORS and first.sample is not None
    names = {t.name for t in load_tensors(first.sample.data, SAFETENSORS)}
    assert names == {"base_model.model.fc1.lora_A.weight", "base_model.model.fc1.lora_B.weight"}
    (copies[1] / "adapter_model.safetensors").write_bytes(
        _pickle_weights(tmp_path / "folder-plant")
    )
    hostile = intake_path(copies[1], LIMITS)
    assert hostile.error == "corrupt" and not (tmp_path / "folder-plant").exists()


def _pickle_weights(path: Path) -> bytes:
    return pickle.dumps(_Plant(path))
