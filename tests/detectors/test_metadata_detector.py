"""Conformance and behaviour tests for the generation-metadata detector."""

from __future__ import annotations

import json
from typing import Any

import pytest

from detectors.base import Sample, Verdict
from detectors.metadata import PRECEDENCE, MetadataDetector
from detectors.testing import metadata_fixtures as fx
from detectors.testing import metadata_nulls as mn
from detectors.testing import metadata_records as mr
from detectors.testing.conformance import DetectorConformance, noise_image, sample_from_bytes


def _detect(data: bytes) -> Verdict:
    detector = MetadataDetector()
    detector.load()
    return detector.detect_one(sample_from_bytes(data))


def _findings(verdict: Verdict) -> list[dict[str, Any]]:
    findings: Any = verdict.evidence["findings"]
    assert isinstance(findings, list)
    return findings


def _finding(verdict: Verdict, label: str) -> dict[str, Any]:
    for finding in _findings(verdict):
        if finding["label"] == label:
            return {**finding["fields"], "finding_source": finding["source"]}
    raise AssertionError(f"no {label} finding in {verdict.evidence}")


def _sources(verdict: Verdict) -> list[str]:
    sources: Any = verdict.evidence["metadata_sources"]
    assert isinstance(sources, list)
    return sources


def _errors(verdict: Verdict) -> list[dict[str, Any]]:
    errors = verdict.evidence["errors"]
    assert isinstance(errors, list)
    return [e for e in errors if isinstance(e, dict)]


class TestMetadataDetector(DetectorConformance):
    detector_class = MetadataDetector

    def positive_examples(self) -> list[tuple[Sample, str]]:
        return [(sample_from_bytes(data), label) for _, data, label in fx.positive_fixtures()]

    def negative_examples(self) -> list[Sample]:
        nulls = [sample_from_bytes(data) for _, data in mn.null_images()[:40]]
        return [*nulls, sample_from_bytes(fx.png_bytes(None, fx.alpha_noise(3)))]

    def test_null_set_has_no_positives(self) -> None:
        detector = self.make_detector()
        named = list(mn.null_images())
        verdicts = detector.detect_batch([sample_from_bytes(data) for _, data in named])
        flagged = [name for (name, _), v in zip(named, verdicts, strict=True) if v.positive]
        assert len(named) >= 100
        assert flagged == []
        assert all(v.error is None for v in verdicts)

    # --- parsed fields ------------------------------------------------------------------

    def test_a1111_fields(self) -> None:
        for data in (
            fx.png_with_text({"parameters": mr.A1111_PARAMETERS}),
            fx.encoded(
                "JPEG", exif=fx.exif_bytes({}, {0x9286: fx.a1111_user_comment(mr.A1111_PARAMETERS)})
            ),
            fx.encoded(
                "WEBP",
                exif=fx.exif_bytes(
                    {}, {0x9286: fx.a1111_user_comment(mr.A1111_PARAMETERS, "utf-16-le")}
                ),
            ),
        ):
            fields = _finding(_detect(data), "a1111")
            assert fields["prompt"].startswith("masterpiece, a red fox")
            assert fields["negative_prompt"] == "lowres, blurry"
            assert fields["steps"] == 28 and fields["seed"] == 3141592653
            assert fields["sampler"] == "DPM++ 2M Karras" and fields["cfg_scale"] == 7.5
            assert (fields["width"], fields["height"]) == (512, 768)
            assert fields["model_hash"] == "6ce0161689"
            assert fields["model"] == "v1-5-pruned-emaonly"
            assert fields["settings"]["Lora hashes"] == "fox_v2: a1b2c3d4e5f6, snow: 0f9e8d7c6b5a"
            assert fields["settings"]["Denoising strength"] == "0.4"

    def test_a1111_png_source_and_stealth_copy(self) -> None:
        verdict = _detect(fx.png_with_text({"parameters": mr.A1111_PARAMETERS}))
        assert _finding(verdict, "a1111")["finding_source"] == "png:tEXt:parameters"
        hidden = _detect(fx.a1111_stealth_png())
        fields = _finding(hidden, "a1111")
        assert fields["finding_source"] == "stealth:alpha" and fields["seed"] == 3141592653
        rgb = fx.embed_stealth(
            noise_image(15, (96, 96)), mr.A1111_PARAMETERS.encode(), "stealth_rgbinfo"
        )
        fields = _finding(_detect(fx.png_bytes(None, rgb)), "a1111")
        assert fields["finding_source"] == "stealth:rgb" and fields["steps"] == 28

    def test_comfyui_fields(self) -> None:
        png = fx.png_with_text(
            {"prompt": json.dumps(mr.COMFY_PROMPT), "workflow": json.dumps(mr.COMFY_WORKFLOW)}
        )
        for data, source in ((png, "png:tEXt:prompt"), (fx.comfy_webp(), "webp:EXIF:Model")):
            verdict = _detect(data)
            assert verdict.label == "comfyui"
            fields = _finding(verdict, "comfyui")
            assert fields["finding_source"] == source and fields["graph"] == "prompt"
            names = {m["name"] for m in fields["models"]}
            assert names == {"sd_xl_base_1.0.safetensors", "lighthouse_style.safetensors"}
            (sampler,) = fields["samplers"]
            assert sampler["class_type"] == "KSampler" and sampler["seed"] == 156680208700286
            assert sampler["steps"] == 20 and sampler["cfg"] == 8.0
            assert sampler["sampler_name"] == "euler"
            assert "model" not in sampler  # links are not settings
            assert "a lighthouse at dusk, volumetric light" in fields["prompts"]
            graphs = [f for f in _findings(verdict) if f["fields"]["graph"] == "workflow"]
            assert len(graphs) == 1

    def test_novelai_fields_from_chunks_and_alpha(self) -> None:
        png = fx.png_with_text(mr.NOVELAI_CHUNKS, noise_image(5, (64, 64)).convert("RGBA"))
        for data, source in (
            (png, "png:tEXt:Software"),
            (fx.novelai_stealth_png(), "stealth:alpha:Software"),
        ):
            verdict = _detect(data)
            assert verdict.label == "novelai" and verdict.positive
            fields = _finding(verdict, "novelai")
            assert fields["finding_source"] == source
            assert fields["software"] == "NovelAI"
            assert fields["model"] == "NovelAI Diffusion V4 5AB81C21" and fields["steps"] == 28
            assert fields["seed"] == 2718281828 and fields["sampler"] == "k_euler_ancestral"
            assert fields["uc"] == "lowres, bad anatomy" and fields["scale"] == 5.0
            assert fields["signed_hash"] == mr.NOVELAI_COMMENT["signed_hash"]

    def test_stealth_copy_only_in_alpha(self) -> None:
        data = fx.novelai_stealth_png()
        sample = sample_from_bytes(data)
        assert sample.image is not None and sample.image.mode == "RGBA"
        verdict = _detect(data)
        assert _sources(verdict)[0].startswith("stealth:alpha")
        assert not any(s.startswith("png:") for s in _sources(verdict))

    def test_invokeai_fields(self) -> None:
        verdict = _detect(
            fx.png_with_text(
                {
                    "invokeai_metadata": json.dumps(mr.INVOKE_METADATA),
                    "invokeai_graph": json.dumps(mr.INVOKE_GRAPH),
                }
            )
        )
        fields = _finding(verdict, "invokeai")
        assert fields["chunk"] == "invokeai_metadata" and fields["app_version"] == "4.2.4"
        assert fields["positive_prompt"] == "an isometric cottage, soft light"
        assert fields["seed"] == 123456789 and fields["steps"] == 30
        assert fields["cfg_scale"] == 6.5 and fields["model"]["name"] == "Juggernaut XL v9"
        legacy = _detect(
            fx.png_with_text(
                {"sd-metadata": json.dumps(mr.INVOKE_LEGACY), "Dream": mr.INVOKE_DREAM}
            )
        )
        findings = {f["source"]: f["fields"] for f in _findings(legacy)}
        old = findings["png:tEXt:sd-metadata"]
        assert old["app_id"] == "invoke-ai/InvokeAI" and old["prompt"] == "a castle on a hill"
        assert old["steps"] == 50 and old["sampler"] == "k_lms"
        dream = findings["png:tEXt:Dream"]
        assert dream["prompt"] == "a castle on a hill" and dream["seed"] == 42
        assert dream["cfg_scale"] == 7.5 and dream["sampler"] == "k_lms"

    def test_fooocus_distinguished_from_a1111(self) -> None:
        as_json = _detect(
            fx.png_with_text(
                {"parameters": json.dumps(mr.FOOOCUS_JSON), "fooocus_scheme": "fooocus"}
            )
        )
        fields = _finding(as_json, "fooocus")
        assert fields["scheme"] == "fooocus" and fields["version"] == "Fooocus v2.5.5"
        assert fields["steps"] == 30 and fields["seed"] == 1234567890
        assert fields["base_model"] == "juggernautXL_v8Rundiffusion"
        scheme_a1111 = _detect(
            fx.png_with_text({"parameters": mr.FOOOCUS_A1111, "fooocus_scheme": "a1111"})
        )
        assert scheme_a1111.evidence["labels"] == ["fooocus"]
        fields = _finding(scheme_a1111, "fooocus")
        assert fields["scheme"] == "a1111" and fields["marker_fooocus_scheme"] == "a1111"
        assert fields["settings"]["ADM Guidance"] == "(1.5, 0.8, 0.3)"
        # Without the scheme chunk, the Fooocus version in the settings line still tells.
        bare = _detect(fx.png_with_text({"parameters": mr.FOOOCUS_A1111}))
        assert bare.label == "fooocus" and bare.evidence["labels"] == ["fooocus"]
        jpeg = _detect(fx.encoded("JPEG", exif=fx.fooocus_exif(mr.FOOOCUS_A1111, "a1111")))
        assert jpeg.label == "fooocus"
        assert _finding(jpeg, "fooocus")["marker_software"] == "Fooocus v2.5.5"

    def test_plain_json_parameters_is_not_fooocus(self) -> None:
        verdict = _detect(fx.png_with_text({"parameters": json.dumps({"prompt": "x"})}))
        assert not verdict.positive and verdict.error is None
        assert _errors(verdict)[0]["reason"] == "unrecognised-parameters"

    def test_iptc_both_forms(self) -> None:
        for code, label in (
            ("trainedAlgorithmicMedia", "iptc-trained-algorithmic-media"),
            ("compositeWithTrainedAlgorithmicMedia", "iptc-composite-trained-algorithmic-media"),
        ):
            for element in (False, True):
                verdict = _detect(fx.encoded("JPEG", xmp=fx.iptc_xmp(code, element)))
                assert verdict.label == label
                fields = _finding(verdict, label)
                assert fields["digital_source_type"] == mr.DST + code
                assert fields["finding_source"] == "jpeg:APP1:XMP:Iptc4xmpExt:DigitalSourceType"

    def test_other_source_type_is_recorded_not_flagged(self) -> None:
        verdict = _detect(fx.encoded("JPEG", xmp=fx.iptc_xmp("digitalCapture")))
        assert not verdict.positive
        assert verdict.evidence["digital_source_types"] == [mr.DST + "digitalCapture"]

    def test_precedence_picks_strongest(self) -> None:
        data = fx.png_with_text(
            {"parameters": mr.A1111_PARAMETERS, "prompt": json.dumps(mr.COMFY_PROMPT)}
        )
        info_xmp = fx.encoded(
            "JPEG",
            xmp=fx.iptc_xmp("trainedAlgorithmicMedia"),
            exif=fx.exif_bytes({}, {0x9286: fx.a1111_user_comment(mr.A1111_PARAMETERS)}),
        )
        both = _detect(data)
        assert both.label == "comfyui" and both.evidence["labels"] == ["comfyui", "a1111"]
        mixed = _detect(info_xmp)
        assert mixed.label == "a1111"
        assert mixed.evidence["labels"] == ["a1111", "iptc-trained-algorithmic-media"]
        assert PRECEDENCE.index("a1111") < PRECEDENCE.index("iptc-trained-algorithmic-media")

    def test_positive_verdict_shape(self) -> None:
        verdict = _detect(fx.png_with_text({"parameters": mr.A1111_PARAMETERS}))
        assert verdict.score == 1.0 and verdict.p_value is None
        assert verdict.evidence["container"] == "png"
        negative = _detect(fx.png_bytes())
        assert negative.label == "not-found" and not negative.positive
        assert negative.evidence["findings"] == []

    # --- robustness --------------------------------------------------------------------

    def test_bad_crc_chunk_skipped_others_kept(self) -> None:
        bad = fx.raw_chunk(b"tEXt", b"parameters\x00" + mr.A1111_PARAMETERS.encode(), crc=1)
        good = fx.raw_chunk(b"tEXt", b"Software\x00NovelAI")
        verdict = _detect(fx.insert_chunks(fx.png_bytes(), bad, good))
        assert verdict.label == "novelai"
        assert {"source": "png:tEXt", "reason": "bad-crc"}.items() <= _errors(verdict)[0].items()

    def test_chunk_length_past_end(self) -> None:
        good = fx.raw_chunk(b"tEXt", b"parameters\x00" + mr.A1111_PARAMETERS.encode())
        png = fx.insert_chunks(fx.png_bytes(), good)
        cut = png[: len(png) - 40]
        broken = cut + b"\x00\x10\x00\x00tEXtparameters\x00abc"
        for data in (cut, broken):
            verdict = _detect(data)
            assert verdict.error is None and verdict.label == "a1111"
            assert _errors(verdict)[-1]["reason"] in ("chunk-past-end", "truncated")

    def test_ztxt_bomb_is_capped(self) -> None:
        verdict = _detect(fx.insert_chunks(fx.png_bytes(), fx.ztxt_bomb()))
        assert verdict.error is None and not verdict.positive
        (error,) = _errors(verdict)
        assert error["reason"] == "decompression-bomb"
        assert error["source"] == "png:zTXt:parameters"

    def test_huge_plain_text_is_capped(self) -> None:
        chunk = fx.raw_chunk(b"tEXt", b"parameters\x00" + b"a" * (9 * 1024 * 1024))
        verdict = _detect(fx.insert_chunks(fx.png_bytes(), chunk))
        assert verdict.error is None and not verdict.positive
        assert _errors(verdict)[0]["reason"] == "too-large"

    def test_bad_zlib_stream(self) -> None:
        chunk = fx.raw_chunk(b"zTXt", b"parameters\x00\x00not zlib at all")
        verdict = _detect(fx.insert_chunks(fx.png_bytes(), chunk))
        assert _errors(verdict)[0]["reason"] == "bad-zlib"

    def test_invalid_json_reported(self) -> None:
        verdict = _detect(fx.png_with_text({"prompt": "{not json", "workflow": "[[[[["}))
        assert not verdict.positive
        reasons = {(e["source"], e["reason"]) for e in _errors(verdict)}
        assert reasons == {
            ("png:tEXt:prompt", "invalid-json"),
            ("png:tEXt:workflow", "invalid-json"),
        }
        chunks = dict(mr.NOVELAI_CHUNKS, Comment='{"steps": 28,')
        nai = _detect(fx.png_with_text(chunks))
        assert nai.label == "novelai"  # the Software tag is the signature
        assert _errors(nai)[0] == {
            **_errors(nai)[0],
            "source": "png:tEXt:Comment",
            "reason": "invalid-json",
        }

    def test_deeply_nested_json(self) -> None:
        verdict = _detect(fx.png_with_text({"invokeai_metadata": "[" * 100_000}))
        assert verdict.error is None
        assert _errors(verdict)[0]["reason"] == "invalid-json"

    def test_nan_in_json_stays_canonicalisable(self) -> None:
        meta = json.dumps(dict(mr.INVOKE_METADATA, cfg_scale=float("nan"), steps=float("inf")))
        verdict = _detect(fx.png_with_text({"invokeai_metadata": meta}))
        assert verdict.label == "invokeai"
        json.dumps(verdict.evidence, allow_nan=False)

    @pytest.mark.parametrize(
        "packet, reason",
        [
            (b"<x:xmpmeta><unclosed>", "bad-xml"),
            (
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><x>&b;</x>',
                "xmp-refused",
            ),
            (
                b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                b"<x>&e;</x>",
                "xmp-refused",
            ),
            (b"\xff\xfe garbage \x00\x01", "bad-xml"),
        ],
    )
    def test_hostile_xmp(self, packet: bytes, reason: str) -> None:
        verdict = _detect(fx.encoded("JPEG", xmp=packet))
        assert verdict.error is None and not verdict.positive
        assert _errors(verdict)[0]["reason"] == reason
        assert "root:" not in json.dumps(verdict.evidence)

    @pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
    def test_bad_exif(self) -> None:
        data = fx.encoded("JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
        verdict = _detect(data)
        assert verdict.error is None
        assert _errors(verdict)[0]["reason"] == "bad-exif"

    def test_broken_stealth_payload(self) -> None:
        rgba = noise_image(9, (64, 64)).convert("RGBA")
        stego = fx.embed_stealth(rgba, b"not gzip at all", "stealth_pngcomp")
        verdict = _detect(fx.png_bytes(None, stego))
        assert verdict.error is None and not verdict.positive
        assert _errors(verdict)[0]["reason"] == "bad-stealth-payload"

    @pytest.mark.parametrize(
        "data, reason",
        [
            (b"", "not-an-image"),
            (b"\x89PNG", "truncated"),
            (b"\x89PNG\r\n\x1a\n", "truncated"),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00", "truncated"),
            (b"\xff\xd8\xff", "truncated"),
            (b"RIFF\x10\x00\x00\x00WEBPVP8 \xff\x00\x00\x00", "truncated"),
            (b"GIF89a" + bytes(20), "not-an-image"),
        ],
    )
    def test_unreadable_containers_are_errors(self, data: bytes, reason: str) -> None:
        verdict = _detect(data)
        assert verdict.error == reason and verdict.label == "error"
