"""Evidence renderers: one per detector, drawn with Streamlit's AppTest; hostile strings in
evidence are shown literally (never as Markdown or HTML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from dashboard.evidence_table import field_rows
from dashboard.export import cell, to_csv
from dashboard.links import valid_sha256
from dashboard.renderers import RENDERERS, renderer_for
from dashboard.renderers.c2pa_codes import explain
from dashboard.renderers.copy_drawing import clean_pairs, draw_matches
from dashboard.renderers.generic import render as generic_render
from dashboard.renderers.words import chance_in_words
from detectors.copy.detector import CopyDetector
from detectors.copy.matcher import ReferenceSet
from detectors.testing.conformance import sample_from_image
from detectors.testing.copy_fixtures import EDITS, reference_images

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "![pixel](http://attacker.example/p.png)",
    "[click me](javascript:alert(1))",
    "**bold** <script>alert(2)</script>",
]


def _render_app(
    detector: str,
    evidence: dict[str, Any],
    score: float | None = None,
    p_value: float | None = None,
    images: dict[str, Any] | None = None,
) -> AppTest:
    # Only builtins in these annotations: AppTest runs the function's source on its own.
    def script(
        detector: str,
        evidence: dict[str, object],
        score: float | None,
        p_value: float | None,
        images: dict[str, object],
    ) -> None:
        from dashboard.renderers import EvidenceContext, render_evidence

        render_evidence(
            detector,
            evidence,
            EvidenceContext(
                asset_sha256="a" * 64,
                score=score,
                p_value=p_value,
                load_image=lambda sha: images.get(sha),
            ),
        )  # type: ignore[arg-type,return-value]

    at = AppTest.from_function(
        script,
        kwargs={
            "detector": detector,
            "evidence": evidence,
            "score": score,
            "p_value": p_value,
            "images": images or {},
        },
        default_timeout=60,
    )
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _markdown(at: AppTest) -> str:
    return "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.info, *at.warning])


def _plain(at: AppTest) -> str:
    parts = [t.value for t in at.text] + [c.value for c in at.code]
    parts += [d.value.to_string() for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def _assert_literal(at: AppTest, payloads: list[str]) -> None:
    markdown, plain = _markdown(at), _plain(at)
    for payload in payloads:
        assert payload not in markdown, f"hostile text reached Markdown: {payload!r}"
        fragment = payload[:12]
        assert fragment in plain, f"hostile text not shown as text: {payload!r}"
    # Identifiers may appear in Markdown only as code spans with markup characters replaced.
    for word in ("](", "<img", "<script", "javascript:", "onerror="):
        assert word not in markdown


def test_every_detector_has_a_renderer_and_unknown_ones_fall_back() -> None:
    assert {"metadata", "c2pa", "watermark", "copy", "synthetic", "laundering"} <= set(RENDERERS)
    assert renderer_for("some-plugin") is generic_render


@pytest.mark.parametrize(
    ("p", "words"),
    [
        (1e-7, "about 1 in 10 million by chance"),
        (1.2e-7, "about 1 in 8.3 million by chance"),
        (0.001, "about 1 in 1 thousand by chance"),
        (0.04, "about 1 in 25 by chance"),
        (1e-20, "about 1 in 10^20 by chance"),
        (0.7, "as likely as not by chance (no evidence)"),
        (None, "no p-value recorded"),
        (float("nan"), "no p-value recorded"),
    ],
)
def test_p_values_in_words(p: float | None, words: str) -> None:
    assert chance_in_words(p) == words


def test_c2pa_status_codes_are_explained() -> None:
    assert explain("assertion.dataHash.mismatch")[0] == "failure"
    assert "changed after it was signed" in explain("assertion.dataHash.mismatch")[1]
    assert explain("claimSignature.validated")[0] == "success"
    assert explain("signingCredential.ocsp.skipped")[0] == "informational"
    assert explain("made.up<b>")[0] == "unknown"


def test_nested_evidence_becomes_rows_not_a_key_value_wall() -> None:
    rows = field_rows({"a": {"b": 1, "c": [1, 2]}, "m": [{"x": "y"}], "e": {}})
    assert rows == [
        {"field": "a.b", "value": "1"},
        {"field": "a.c", "value": "1, 2"},
        {"field": "m[0].x", "value": "y"},
        {"field": "e", "value": "(empty)"},
    ]


def test_metadata_fields_and_the_claim_caveat_with_hostile_prompt() -> None:
    evidence = {
        "container": "png",
        "labels": ["a1111"],
        "findings": [
            {
                "label": "a1111",
                "source": "png:tEXt:parameters " + HOSTILE[1],
                "fields": {
                    "prompt": HOSTILE[0],
                    "negative_prompt": HOSTILE[2],
                    "model": HOSTILE[3],
                    "seed": 42,
                    "sampler": "Euler a",
                    "steps": 20,
                    "settings": {"Lora": HOSTILE[1]},
                },
            }
        ],
    }
    at = _render_app("metadata", evidence, score=1.0)
    assert "this is a claim in the file, not proof" in _markdown(at).lower()
    key = at.dataframe[0].value
    assert dict(zip(key["field"], key["value"], strict=True)) == {
        "model": HOSTILE[3],
        "seed": "42",
        "sampler": "Euler a",
        "steps": "20",
    }
    assert HOSTILE[0] in [t.value for t in at.text]
    _assert_literal(at, HOSTILE)


def test_c2pa_chain_signer_and_codes() -> None:
    evidence = {
        "manifest_present": True,
        "validation_state": "Invalid",
        "validation": {
            "success": [
                {"code": "claimSignature.validated", "url": "u", "explanation": HOSTILE[0]}
            ],
            "informational": [],
            "failure": [
                {"code": "assertion.dataHash.mismatch", "url": "u", "explanation": HOSTILE[1]}
            ],
        },
        "active_manifest": "urn:uuid:1",
        "title": HOSTILE[2],
        "claim_generator": "Generator " + HOSTILE[3],
        "signature": {"issuer": "Example CA", "common_name": HOSTILE[1], "alg": "Es256"},
        "ingredients": [
            {"title": "parent.jpg", "relationship": "parentOf", "active_manifest": "urn:uuid:0"}
        ],
        "why": "the active manifest declares trainedAlgorithmicMedia",
    }
    at = _render_app("c2pa", evidence)
    assert ":red[Invalid" in _markdown(at)
    frames = [d.value for d in at.dataframe]
    codes = next(f for f in frames if "code" in f.columns)
    assert list(codes["code"]) == ["assertion.dataHash.mismatch", "claimSignature.validated"]
    assert list(codes["kind"]) == ["failure", "success"]
    assert "changed after it was signed" in codes["meaning"][0]
    chain = next(f for f in frames if "relationship" in f.columns)
    assert list(chain["level"]) == ["active manifest", "ingredient"]
    assert list(chain["relationship"]) == ["—", "parentOf"]
    _assert_literal(at, HOSTILE)


def test_watermark_payload_bits_and_chance() -> None:
    best = {
        "payload": "acme-2024",
        "method": "dwtDct",
        "order": "msb",
        "domain": "rgb",
        "n": 64,
        "k": 60,
        "bit_accuracy": 0.9375,
        "p_value": 1e-8,
        "p_value_corrected": 1e-7,
    }
    other = {**best, "payload": HOSTILE[0], "k": 30, "p_value_corrected": 0.6}
    evidence = {"width": 64, "height": 64, "best": best, "table": [best, other], "tests": 10}
    at = _render_app("watermark", evidence, score=0.9375, p_value=1e-7)
    text = _markdown(at)
    assert "`acme-2024`: 60 of 64 (94%) bits matched" in text
    assert "about 1 in 10 million by chance" in text
    table = at.dataframe[0].value
    assert list(table["bits matched"]) == ["60 of 64 (94%)", "30 of 64 (47%)"]
    assert list(table["chance"])[1] == "as likely as not by chance (no evidence)"
    _assert_literal(at, HOSTILE[:1])


@pytest.fixture(scope="module")
def crop_verdict(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Image.Image, Image.Image]:
    directory = tmp_path_factory.mktemp("copy-refs")
    rocket = reference_images()["rocket"]
    references = ReferenceSet()
    references.add(1, rocket, sha256="b" * 64, bank="news")
    references.save(directory)
    detector = CopyDetector({"index_dir": str(directory)})
    detector.load()
    query = EDITS["crop10"](rocket)
    (verdict,) = detector.detect_batch([sample_from_image(query)])
    return verdict, query, rocket


def test_copy_side_by_side_with_keypoints_full_hash_and_score_words(
    crop_verdict: tuple[Any, Image.Image, Image.Image],
) -> None:
    verdict, query, rocket = crop_verdict
    assert verdict.positive
    inliers = verdict.evidence["matches"][0]["verification"]["inliers"]
    at = _render_app(
        "copy",
        dict(verdict.evidence),
        score=verdict.score,
        images={"a" * 64: query, "b" * 64: rocket},
    )
    text = _markdown(at)
    assert f"geometric verification found {inliers} matching keypoints" in text
    assert f"Score {verdict.score:.2f}" in text
    assert "b" * 64 in [c.value for c in at.code], "the full reference hash, copyable"
    assert len(at.image) == 1, "query and reference drawn side by side with the matches"
    summary = at.dataframe[0].value
    assert list(summary["inliers"]) == [str(inliers)]


def test_copy_without_reference_image_says_only_hashes_are_kept(
    crop_verdict: tuple[Any, Image.Image, Image.Image],
) -> None:
    verdict, query, _ = crop_verdict
    at = _render_app("copy", dict(verdict.evidence), score=verdict.score, images={"a" * 64: query})
    assert any("only this reference's hashes" in i.value for i in at.info)
    assert len(at.image) == 1  # the query alone


def test_copy_single_match_record_and_hostile_bank() -> None:
    evidence = {
        "bank": HOSTILE[1],
        "reference_id": 7,
        "reference_sha256": "c" * 64,
        "reference_pdq": "f" * 64,
        "distance": 4,
        "bank_generation": 3,
    }
    at = _render_app("copy", evidence, score=0.98)
    assert "252 of 256 PDQ hash bits agree" in _markdown(at)
    assert "c" * 64 in [c.value for c in at.code]
    _assert_literal(at, HOSTILE[1:2])


def test_drawn_pairs_are_validated() -> None:
    assert clean_pairs(
        [[1, 2, 3, 4], [float("nan"), 1, 1, 1], ["x", 1, 1, 1], [900, 1, 1, 1], [1, 2, 3]],
        (100, 100),
        (100, 100),
        mirrored=False,
    ) == [(1, 2, 3, 4)]
    assert clean_pairs([[10, 2, 3, 4]], (100, 100), (100, 100), mirrored=True) == [(89, 2, 3, 4)]
    assert clean_pairs("not pairs", (9, 9), (9, 9), mirrored=False) == []
    image = Image.new("RGB", (64, 48), "white")
    assert draw_matches(image, image, [[900, 900, 1, 1]], mirrored=False) is None
    drawn = draw_matches(image, image, [[10, 10, 20, 20]], mirrored=False)
    assert drawn is not None and drawn.size == (128, 48)


def test_generic_renderer_shows_nested_evidence_as_tables() -> None:
    evidence = {"model": {"name": HOSTILE[0], "layers": [1, 2]}, "rows": [{"a": HOSTILE[2]}]}
    at = _render_app("some-plugin", evidence)
    fields = at.dataframe[0].value
    assert list(fields["field"]) == ["model.name", "model.layers"]
    assert "=" not in "".join(fields["value"][1:])
    _assert_literal(at, [HOSTILE[0], HOSTILE[2]])


def test_learned_renderer_draws_the_map_and_keeps_other_fields() -> None:
    evidence = {"anomaly_map": [[0.1, 0.9], [0.5, 0.2]], "model": HOSTILE[0]}
    at = _render_app("laundering", evidence, score=0.8)
    assert len(at.image) == 1
    _assert_literal(at, HOSTILE[:1])


def test_csv_cells_cannot_become_formulas() -> None:
    assert cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert cell("-1+2") == "'-1+2" and cell("plain") == "plain" and cell(None) == ""
    assert to_csv([{"a": "@x", "b": 1}, {"a": "y", "c": "+z"}]).decode().splitlines() == [
        "a,b,c",
        "'@x,1,",
        "y,,'+z",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("A" * 64, "a" * 64),
        (" " + "0" * 64 + " ", "0" * 64),
        ("g" * 64, None),
        ("a" * 63, None),
        ("a" * 65, None),
        (None, None),
        ("<script>", None),
    ],
)
def test_asset_links_accept_only_sha256(value: object, expected: str | None) -> None:
    assert valid_sha256(value) == expected


def test_renderers_need_no_files(tmp_path: Path) -> None:
    # Renderers get images only through the context (no file reads of their own).
    source = Path(__file__).resolve().parents[2] / "dashboard" / "renderers"
    for module in source.glob("*.py"):
        text = module.read_text()
        assert "open(" not in text and "read_bytes" not in text, module.name
