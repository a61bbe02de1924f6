"""Property-based fuzzing of the metadata detector with hypothesis (bounded).

Every input — mutated PNG/JPEG/WebP files, hostile metadata chunk contents, random stealth
payloads — must give a verdict or an error verdict. ``detect_one`` is called directly so
the base class's exception safety net is not what keeps these green; ``detect_batch`` is
checked too, and must never report ``detector-exception``.
"""

from __future__ import annotations

import functools
import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from detectors.base import Sample, Verdict
from detectors.metadata import MetadataDetector
from detectors.testing import metadata_fixtures as fx
from detectors.testing import metadata_records as mr
from detectors.testing.conformance import noise_image, sample_from_bytes

pytestmark = pytest.mark.slow  # fuzzing; test_metadata_detector.py stays in the fast loop

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEYS = [
    "parameters",
    "prompt",
    "workflow",
    "Comment",
    "Software",
    "Title",
    "Source",
    "invokeai_metadata",
    "invokeai_graph",
    "sd-metadata",
    "Dream",
    "fooocus_scheme",
    "XML:com.adobe.xmp",
]


@functools.cache
def _seeds() -> tuple[bytes, ...]:
    exif = fx.exif_bytes({}, {0x9286: fx.a1111_user_comment(mr.A1111_PARAMETERS)})
    return (
        fx.png_with_text({"parameters": mr.A1111_PARAMETERS}),
        fx.png_with_text(
            {"prompt": json.dumps(mr.COMFY_PROMPT), "workflow": json.dumps(mr.COMFY_WORKFLOW)}
        ),
        fx.png_with_text(mr.NOVELAI_CHUNKS),
        fx.encoded("JPEG", exif=exif),
        fx.encoded("JPEG", xmp=fx.iptc_xmp("trainedAlgorithmicMedia")),
        fx.comfy_webp(),
        fx.encoded("WEBP", exif=fx.fooocus_exif(json.dumps(mr.FOOOCUS_JSON), "fooocus")),
    )


@functools.cache
def _detector() -> MetadataDetector:
    detector = MetadataDetector()
    detector.load()
    return detector


def _judge(sample: Sample) -> Verdict:
    detector = _detector()
    verdict = detector.detect_one(sample)  # must not raise
    assert verdict.asset_sha256 == sample.sha256
    assert verdict.positive is False or verdict.error is None
    json.dumps(verdict.evidence, allow_nan=False)
    (batched,) = detector.detect_batch([sample])
    assert batched.error != "detector-exception", batched.evidence
    event(f"label={verdict.label}")
    return verdict


@FUZZ
@given(
    seed=st.integers(0, 6),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=12),
    cut=st.one_of(st.none(), st.floats(0, 1)),
    insert=st.binary(max_size=64),
)
def test_mutated_files(
    seed: int, edits: list[tuple[float, int]], cut: float | None, insert: bytes
) -> None:
    data = bytearray(_seeds()[seed])
    for where, value in edits:
        data[min(int(where * len(data)), len(data) - 1)] = value
    if insert:
        at = int((edits[0][0] if edits else 0.5) * len(data))
        data[at:at] = insert
    if cut is not None:
        data = data[: int(cut * len(data))]
    sample = sample_from_bytes(bytes(data))
    _judge(sample)
    _judge(Sample(sample.sha256, bytes(data), "image/png", None))


@FUZZ
@given(
    key=st.sampled_from(KEYS),
    text=st.text(max_size=400),
    chunk=st.sampled_from([b"tEXt", b"zTXt", b"iTXt"]),
    raw=st.binary(max_size=200),
)
def test_hostile_chunk_contents(key: str, text: str, chunk: bytes, raw: bytes) -> None:
    keyword = key.encode("latin-1") + b"\x00"
    if chunk == b"tEXt":
        body = keyword + text.encode("latin-1", "replace")
    elif chunk == b"zTXt":
        body = keyword + b"\x00" + (raw or text.encode("utf-8"))
    else:
        body = keyword + b"\x00\x00\x00\x00" + text.encode("utf-8", "surrogatepass")
    png = fx.insert_chunks(fx.png_bytes(), fx.raw_chunk(chunk, body))
    verdict = _judge(sample_from_bytes(png))
    assert verdict.error is None


_NAMES = st.sampled_from(
    [
        "class_type",
        "inputs",
        "nodes",
        "type",
        "widgets_values",
        "id",
        "version",
        "model",
        "image",
        "prompt",
        "steps",
        "seed",
        "cfg",
        "ckpt_name",
        "sampler_name",
        "uc",
        "scale",
        "sampler",
        "app_id",
        "positive_prompt",
        "name",
        "base",
        "loras",
        "metadata_scheme",
    ]
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_NAMES, inner, max_size=5),
    max_leaves=25,
)


@FUZZ
@given(
    key=st.sampled_from(
        [
            "prompt",
            "workflow",
            "invokeai_metadata",
            "invokeai_graph",
            "sd-metadata",
            "Comment",
            "parameters",
        ]
    ),
    value=st.dictionaries(_NAMES | st.text(max_size=4), _JSON, max_size=6),
    nested=st.booleans(),
)
def test_hostile_json_structures(key: str, value: dict[str, object], nested: bool) -> None:
    payload = {"3": value} if nested else value
    chunks = {key: json.dumps(payload)}
    if key in ("Comment", "parameters"):
        chunks.update({"Software": "NovelAI", "fooocus_scheme": "fooocus"})
    verdict = _judge(sample_from_bytes(fx.png_with_text(chunks)))
    assert verdict.error is None


@FUZZ
@given(
    comment=st.binary(max_size=300),
    tag=st.sampled_from([0x010E, 0x010F, 0x0110, 0x0131]),
    text=st.text(max_size=200),
    xmp=st.binary(max_size=300),
    fmt=st.sampled_from(["JPEG", "WEBP"]),
)
def test_hostile_exif_and_xmp(comment: bytes, tag: int, text: str, xmp: bytes, fmt: str) -> None:
    exif = fx.exif_bytes({tag: "prompt:" + text}, {0x9286: b"UNICODE\x00" + comment})
    data = fx.encoded(fmt, exif=exif, xmp=xmp or None)
    verdict = _judge(sample_from_bytes(data))
    assert verdict.error is None


@FUZZ
@given(
    signature=st.sampled_from(["stealth_pngcomp", "stealth_pnginfo"]),
    payload=st.binary(max_size=200),
    declared=st.one_of(st.none(), st.integers(0, 2**32 - 1)),
)
def test_random_stealth_payloads(signature: str, payload: bytes, declared: int | None) -> None:
    rgba = noise_image(21, (48, 48)).convert("RGBA")
    stego = fx.embed_stealth(rgba, payload, signature)
    if declared is not None:
        # Overwrite the 32-bit length field (bits 120..151) with an arbitrary value.
        pixels = stego.load()
        assert pixels is not None
        bits = f"{declared:032b}"
        for i, bit in enumerate(bits):
            index = 120 + i
            x, y = divmod(index, stego.height)
            r, g, b, a = pixels[x, y]  # type: ignore[misc]
            pixels[x, y] = (r, g, b, (a & ~1) | int(bit))
    verdict = _judge(sample_from_bytes(fx.png_bytes(None, stego)))
    assert verdict.error is None
