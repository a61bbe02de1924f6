"""Embedders (TorchScript, ONNX, handcrafted default) and the float vector index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from detectors.copy.binary_index import DuplicateIdError
from detectors.copy.embedding import (
    HandcraftedEmbedder,
    ModelChecksumError,
    ModelLoadError,
    OnnxEmbedder,
    TorchScriptEmbedder,
    preprocess,
    sha256_file,
)
from detectors.copy.vector_index import VectorIndex, gpu_available
from detectors.testing.copy_fixtures import EDITS, null_images, reference_images


class TinyNet(torch.nn.Module):
    """A stand-in for SSCD: NCHW image batch in, 512-d vectors out."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 16, 5, stride=4)
        self.fc = torch.nn.Linear(16, 512)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))
        return out


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    net = TinyNet().eval()
    scripted = torch.jit.script(net)
    scripted.save(str(root / "tiny.pt"))  # type: ignore[no-untyped-call]
    pytest.importorskip("onnx")
    torch.onnx.export(
        net,
        (torch.randn(1, 3, 64, 64),),
        str(root / "tiny.onnx"),
        dynamo=False,
        input_names=["images"],
        output_names=["embeddings"],
        dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "embeddings": {0: "batch"}},
    )
    return {"torchscript": root / "tiny.pt", "onnx": root / "tiny.onnx"}


@pytest.mark.parametrize("kind", ["torchscript", "onnx"])
def test_model_loaders_agree_with_torch(models: dict[str, Path], kind: str) -> None:
    path = models[kind]
    cls = TorchScriptEmbedder if kind == "torchscript" else OnnxEmbedder
    embedder = cls(path, sha256_file(path), size=64)
    assert embedder.checksum == sha256_file(path) and embedder.dim == 512
    images = [reference_images()["rocket"], reference_images()["coffee"]]
    vectors = embedder.embed(images)
    assert vectors.shape == (2, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    with torch.inference_mode():
        expected = TinyNet().eval()(torch.from_numpy(preprocess(images, 64))).numpy()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(vectors, expected, atol=1e-4)
    assert embedder.embed([]).shape == (0, 512)


@pytest.mark.parametrize("kind", ["torchscript", "onnx"])
def test_wrong_checksum_is_refused(models: dict[str, Path], kind: str, tmp_path: Path) -> None:
    cls = TorchScriptEmbedder if kind == "torchscript" else OnnxEmbedder
    with pytest.raises(ModelChecksumError):
        cls(models[kind], "0" * 64)
    with pytest.raises(ModelLoadError):
        cls(tmp_path / "missing.bin", "0" * 64)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelLoadError):
        cls(junk, sha256_file(junk))


def test_preprocess_is_sscd_style() -> None:
    batch = preprocess([reference_images()["chelsea"]], 288)
    assert batch.shape == (1, 3, 288, 288) and batch.dtype == np.float32
    assert float(batch.min()) > -2.2 and float(batch.max()) < 2.7


def test_handcrafted_ranks_the_original_first_for_global_edits() -> None:
    embedder = HandcraftedEmbedder()
    references = reference_images()
    index = VectorIndex(embedder.dim)
    index.add(np.arange(len(references)), embedder.embed(list(references.values())))
    for extra, image in enumerate(null_images().values()):
        index.add([100 + extra], embedder.embed([image]))
    global_edits = [
        "exact",
        "jpeg50",
        "resize0.5",
        "blur",
        "noise",
        "hflip",
        "rotate90",
        "crop10",
        "text-overlay",
    ]
    for ref_id, image in enumerate(references.values()):
        queries = embedder.embed([EDITS[e](image) for e in global_edits])
        ids, _ = index.similarities(queries, 5)
        assert all(ref_id in row for row in ids.tolist()), (ref_id, ids)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_vector_index_add_remove_persist(kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1000, 1300)
    index = VectorIndex(32, kind)  # type: ignore[arg-type]
    index.add(ids, vectors)
    with pytest.raises(DuplicateIdError):
        index.add(ids[:1], vectors[:1])
    found, sims = index.similarities(vectors[:10], 3)
    assert found[:, 0].tolist() == ids[:10].tolist()
    assert np.allclose(sims[:, 0], 1.0, atol=1e-5)
    assert index.remove(ids[:5]) == 5 and len(index) == 295
    found, _ = index.similarities(vectors[:5], 3)
    assert not set(found.ravel().tolist()) & set(ids[:5].tolist())
    index.save(tmp_path / "v.index")
    loaded = VectorIndex.load(tmp_path / "v.index")
    assert len(loaded) == 295 and loaded.layout == kind
    again, _ = loaded.similarities(vectors[5:10], 1)
    assert again[:, 0].tolist() == ids[5:10].tolist()
    loaded.add(ids[:1], vectors[:1])  # re-adding a removed id
    assert loaded.similarities(vectors[:1], 1)[0][0, 0] == ids[0]
    result = loaded.search(vectors[:2], 2)
    assert len(result) == 2 and result.hits(0)[0][0] == ids[0]


def test_gpu_probe_is_safe() -> None:
    assert isinstance(gpu_available(), bool)


def test_reference_set_with_model_embedder_round_trips(
    models: dict[str, Path], tmp_path: Path
) -> None:
    from detectors.copy.detector import CopyDetector
    from detectors.copy.matcher import ReferenceSet, ReferenceSetError
    from detectors.testing.conformance import sample_from_image

    path = models["onnx"]
    digest = sha256_file(path)
    references = ReferenceSet(embedder=OnnxEmbedder(path, digest))
    images = reference_images()
    references.add(1, images["rocket"], bank="b")
    references.save(tmp_path)
    with pytest.raises(ReferenceSetError):  # built with another embedder
        ReferenceSet.load(tmp_path)
    detector = CopyDetector(
        {
            "index_dir": str(tmp_path),
            "embedder_path": str(path),
            "embedder_sha256": digest,
            "embedder_format": "onnx",
        }
    )
    detector.load()
    (verdict,) = detector.detect_batch([sample_from_image(EDITS["jpeg50"](images["rocket"]))])
    assert verdict.positive and verdict.model_checksum == digest
    wrong = CopyDetector(
        {
            "index_dir": str(tmp_path),
            "embedder_path": str(path),
            "embedder_sha256": "f" * 64,
            "embedder_format": "onnx",
        }
    )
    with pytest.raises(ModelChecksumError):
        wrong.load()
