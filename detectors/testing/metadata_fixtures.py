"""Fixtures for the metadata detector, written the way each generator writes its metadata.

Every builder returns file bytes. The pixel content is noise; only the metadata matters.
The references are the tools' own save paths: A1111 ``modules/images.py`` (PNG
``parameters`` via ``PngInfo.add_text``; JPEG/WebP EXIF ``UserComment`` via piexif's
``UNICODE`` form), ComfyUI ``SaveImage`` / ``SaveAnimatedWEBP``, NovelAI's text chunks and
its ``stealth_pngcomp`` alpha copy, InvokeAI's ``invokeai_metadata``/``invokeai_graph``
and legacy ``sd-metadata``/``Dream``, Fooocus ``modules/private_logger.py``, and an IPTC
XMP packet as exiftool or Adobe tools write it.
"""

from __future__ import annotations

import functools
import gzip
import io
import json
import os
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from detectors.testing.samples import noise_image

A1111_PARAMETERS = (
    "masterpiece, a red fox in the snow, (detailed fur:1.2)\n"
    "Negative prompt: lowres, blurry\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 3141592653, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.4, "
    'Lora hashes: "fox_v2: a1b2c3d4e5f6, snow: 0f9e8d7c6b5a", Hires upscale: 2, '
    "Version: v1.7.0"
)

COMFY_PROMPT: dict[str, Any] = {
    "3": {
        "class_type": "KSampler",
        "_meta": {"title": "KSampler"},
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8.0,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["10", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"},
    },
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 1024, "height": 1024, "batch_size": 1},
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "a lighthouse at dusk, volumetric light", "clip": ["10", 1]},
    },
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["10", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {
        "class_type": "LoraLoader",
        "inputs": {
            "lora_name": "lighthouse_style.safetensors",
            "strength_model": 0.8,
            "strength_clip": 0.8,
            "model": ["4", 0],
            "clip": ["4", 1],
        },
    },
}

COMFY_WORKFLOW: dict[str, Any] = {
    "last_node_id": 10,
    "last_link_id": 12,
    "version": 0.4,
    "links": [],
    "nodes": [
        {
            "id": 3,
            "type": "KSampler",
            "pos": [863, 186],
            "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1],
        },
        {
            "id": 4,
            "type": "CheckpointLoaderSimple",
            "pos": [26, 474],
            "widgets_values": ["sd_xl_base_1.0.safetensors"],
        },
        {
            "id": 6,
            "type": "CLIPTextEncode",
            "pos": [415, 186],
            "widgets_values": ["a lighthouse at dusk, volumetric light"],
        },
        {
            "id": 10,
            "type": "LoraLoader",
            "pos": [20, 200],
            "widgets_values": ["lighthouse_style.safetensors", 0.8, 0.8],
        },
    ],
}

NOVELAI_COMMENT: dict[str, Any] = {
    "prompt": "1girl, silver hair, night city, best quality",
    "steps": 28,
    "height": 1216,
    "width": 832,
    "scale": 5.0,
    "uncond_scale": 1.0,
    "cfg_rescale": 0.0,
    "seed": 2718281828,
    "n_samples": 1,
    "noise_schedule": "karras",
    "sampler": "k_euler_ancestral",
    "uc": "lowres, bad anatomy",
    "request_type": "PromptGenerateRequest",
    "signed_hash": "c2lnbmVkLWhhc2gtZXhhbXBsZQ==",
}
NOVELAI_CHUNKS: dict[str, str] = {
    "Title": "NovelAI generated image",
    "Description": NOVELAI_COMMENT["prompt"],
    "Software": "NovelAI",
    "Source": "NovelAI Diffusion V4 5AB81C21",
    "Generation time": "3.21",
    "Comment": json.dumps(NOVELAI_COMMENT),
}

INVOKE_METADATA: dict[str, Any] = {
    "app_version": "4.2.4",
    "generation_mode": "sdxl_txt2img",
    "positive_prompt": "an isometric cottage, soft light",
    "negative_prompt": "blurry",
    "width": 1024,
    "height": 1024,
    "seed": 123456789,
    "steps": 30,
    "cfg_scale": 6.5,
    "scheduler": "dpmpp_2m_k",
    "rand_device": "cpu",
    "model": {
        "key": "4f1c",
        "hash": "blake3:9a8b",
        "name": "Juggernaut XL v9",
        "base": "sdxl",
        "type": "main",
    },
    "loras": [],
}
INVOKE_GRAPH: dict[str, Any] = {
    "id": "sdxl_graph",
    "nodes": {
        "noise": {"type": "noise", "id": "noise"},
        "denoise": {"type": "denoise_latents", "id": "denoise"},
    },
    "edges": [],
}
INVOKE_LEGACY: dict[str, Any] = {
    "model": "stable diffusion",
    "model_weights": "stable-diffusion-1.5",
    "model_hash": "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",
    "app_id": "invoke-ai/InvokeAI",
    "app_version": "2.2.5",
    "image": {
        "prompt": [{"prompt": "a castle on a hill", "weight": 1.0}],
        "steps": 50,
        "cfg_scale": 7.5,
        "threshold": 0,
        "perlin": 0,
        "seed": 42,
        "width": 512,
        "height": 512,
        "type": "txt2img",
        "postprocessing": None,
        "sampler": "k_lms",
    },
}
INVOKE_DREAM = '"a castle on a hill" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms'

FOOOCUS_JSON: dict[str, Any] = {
    "adm_guidance": "(1.5, 0.8, 0.3)",
    "base_model": "juggernautXL_v8Rundiffusion",
    "base_model_hash": "aeb7e9e689",
    "full_negative_prompt": ["unrealistic"],
    "full_prompt": ["a mountain lake, cinematic"],
    "guidance_scale": 4.0,
    "loras": [["sd_xl_offset_example-lora_1.0", 0.1, "4852686128"]],
    "metadata_scheme": "fooocus",
    "negative_prompt": "",
    "performance": "Speed",
    "prompt": "a mountain lake",
    "refiner_model": "None",
    "resolution": "(1152, 896)",
    "sampler": "dpmpp_2m_sde_gpu",
    "scheduler": "karras",
    "seed": "1234567890",
    "sharpness": 2.0,
    "steps": 30,
    "styles": "['Fooocus V2', 'Fooocus Enhance']",
    "vae": "Default (model)",
    "version": "Fooocus v2.5.5",
}
FOOOCUS_A1111 = (
    "a mountain lake, cinematic\nNegative prompt: unrealistic\n"
    "Steps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 1234567890, Size: 1152x896, "
    'CFG scale: 4.0, Sharpness: 2.0, ADM Guidance: "(1.5, 0.8, 0.3)", '
    "Model: juggernautXL_v8Rundiffusion, Model hash: aeb7e9e689, Performance: Speed, "
    "Scheduler: karras, VAE: Default (model), Version: Fooocus v2.5.5"
)

DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def png_bytes(info: PngInfo | None = None, image: Image.Image | None = None) -> bytes:
    """A PNG of ``image`` (noise by default) saved with Pillow and ``info``'s chunks."""
    buffer = io.BytesIO()
    (image or noise_image(11, (96, 64))).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def png_with_text(chunks: dict[str, str], image: Image.Image | None = None) -> bytes:
    """A PNG with one text chunk per item (Pillow picks tEXt, or iTXt for non-Latin-1)."""
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    return png_bytes(info, image)


def exif_bytes(tags: dict[int, Any], exif_ifd: dict[int, Any] | None = None) -> bytes:
    """An EXIF block (``Exif\\0\\0`` + TIFF) with IFD0 ``tags`` and Exif IFD entries."""
    exif = Image.Exif()
    for tag, value in tags.items():
        exif[tag] = value
    if exif_ifd:
        ifd = exif.get_ifd(0x8769)
        ifd.update(exif_ifd)
    return exif.tobytes()


def encoded(
    fmt: str,
    *,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    image: Image.Image | None = None,
) -> bytes:
    """``image`` (noise by default) as JPEG or WebP with the given EXIF/XMP."""
    options: dict[str, Any] = {"quality": 90}
    if exif is not None:
        options["exif"] = exif
    if xmp is not None:
        options["xmp"] = xmp
    buffer = io.BytesIO()
    (image or noise_image(12, (96, 64))).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def a1111_user_comment(text: str, order: str = "utf-16-be") -> bytes:
    """piexif's ``UserComment.dump(text, encoding="unicode")`` form (or little-endian)."""
    return b"UNICODE\x00" + text.encode(order)


def comfy_webp() -> bytes:
    """ComfyUI ``SaveAnimatedWEBP``: prompt in EXIF Model, workflow in EXIF Make."""
    exif = exif_bytes(
        {
            0x0110: "prompt:" + json.dumps(COMFY_PROMPT),
            0x010F: "workflow:" + json.dumps(COMFY_WORKFLOW),
        }
    )
    return encoded("WEBP", exif=exif)


def fooocus_exif(parameters: str, scheme: str) -> bytes:
    """Fooocus ``get_exif``: UserComment, Software and MakerNote set in IFD0."""
    return exif_bytes({0x9286: parameters, 0x0131: "Fooocus v2.5.5", 0x927C: scheme})


def iptc_xmp(code: str, element_form: bool = False) -> bytes:
    """An XMP packet declaring an IPTC digital source type (attribute or element form)."""
    uri = DST + code
    if element_form:
        body = (
            f'<rdf:Description rdf:about="" xmlns:Iptc4xmpExt='
            f'"http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
            f"<Iptc4xmpExt:DigitalSourceType>{uri}</Iptc4xmpExt:DigitalSourceType>"
            f"</rdf:Description>"
        )
    else:
        body = (
            f'<rdf:Description rdf:about="" xmlns:Iptc4xmpExt='
            f'"http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
            f'Iptc4xmpExt:DigitalSourceType="{uri}"/>'
        )
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f"{body}</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def embed_stealth(
    image: Image.Image,
    payload: bytes,
    signature: str = "stealth_pngcomp",
) -> Image.Image:
    """Write ``signature`` + 32-bit bit length + ``payload`` into pixel LSBs.

    Follows the stealth-pnginfo writer: pixels column by column (x outer, y inner); one bit
    per pixel in alpha for ``stealth_png*`` signatures, three (R, G, B) for
    ``stealth_rgb*``. Deliberately a plain loop, unlike the numpy reader.
    """
    rgb_mode = signature.startswith("stealth_rgb")
    out = image.convert("RGB" if rgb_mode else "RGBA")
    bits = "".join(f"{b:08b}" for b in signature.encode()) + f"{len(payload) * 8:032b}"
    bits += "".join(f"{b:08b}" for b in payload)
    width, height = out.size
    if len(bits) > width * height * (3 if rgb_mode else 1):
        raise ValueError("image too small for the payload")
    pixels = out.load()
    assert pixels is not None
    index = 0
    for x in range(width):
        for y in range(height):
            if index >= len(bits):
                return out
            values = list(pixels[x, y])  # type: ignore[arg-type]
            channels = range(3) if rgb_mode else (3,)
            for channel in channels:
                if index < len(bits):
                    values[channel] = (values[channel] & ~1) | int(bits[index])
                    index += 1
            pixels[x, y] = tuple(values)
    return out


def novelai_stealth_png() -> bytes:
    """A NovelAI PNG whose text chunks were stripped, leaving only the alpha copy."""
    payload = gzip.compress(json.dumps(NOVELAI_CHUNKS).encode("utf-8"))
    rgba = noise_image(13, (128, 128)).convert("RGBA")
    return png_bytes(None, embed_stealth(rgba, payload))


def a1111_stealth_png() -> bytes:
    """The A1111 stealth-pnginfo extension's uncompressed alpha copy of ``parameters``."""
    rgba = noise_image(14, (128, 128)).convert("RGBA")
    stego = embed_stealth(rgba, A1111_PARAMETERS.encode("utf-8"), "stealth_pnginfo")
    return png_bytes(None, stego)


def raw_chunk(ctype: bytes, body: bytes, crc: int | None = None) -> bytes:
    """One PNG chunk, with a correct CRC unless ``crc`` is given."""
    if crc is None:
        crc = zlib.crc32(ctype + body)
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", crc)


def insert_chunks(png: bytes, *chunks: bytes) -> bytes:
    """``png`` with ``chunks`` inserted right after IHDR."""
    ihdr_end = 8 + 12 + 13
    return png[:ihdr_end] + b"".join(chunks) + png[ihdr_end:]


def ztxt_bomb(size: int = 50 * 1024 * 1024) -> bytes:
    """A zTXt ``parameters`` chunk that inflates to ``size`` bytes of zeros."""
    compressor = zlib.compressobj(9)
    block = bytes(1024 * 1024)
    parts = [compressor.compress(block) for _ in range(size // len(block))]
    parts.append(compressor.flush())
    return raw_chunk(b"zTXt", b"parameters\x00\x00" + b"".join(parts))


@functools.cache
def null_images() -> tuple[tuple[str, bytes], ...]:
    """The named null set (cached); see :func:`_null_images`."""
    return tuple(_null_images())


def _null_images() -> Iterator[tuple[str, bytes]]:
    """The named null set: clean photos from scikit-image and scikit-learn.

    Yields the shipped files' own bytes (with their real metadata: ICC, EXIF, XMP,
    comments) and re-encodes as PNG, JPEG and WebP of the full image and of two crops.
    """
    import skimage
    from sklearn.datasets import images as sk_images

    folders = {
        "skimage": os.path.join(os.path.dirname(skimage.__file__), "data"),
        "sklearn": os.path.dirname(sk_images.__file__),
    }
    names = {
        "skimage": [
            "astronaut.png",
            "coffee.png",
            "chelsea.png",
            "rocket.jpg",
            "camera.png",
            "coins.png",
            "horse.png",
            "hubble_deep_field.jpg",
            "ihc.png",
            "motorcycle_left.png",
            "retina.jpg",
            "logo.png",
            "page.png",
        ],
        "sklearn": ["china.jpg", "flower.jpg"],
    }
    for origin, files in names.items():
        for name in files:
            with open(os.path.join(folders[origin], name), "rb") as handle:
                original = handle.read()
            yield f"{origin}/{name}", original
            with Image.open(io.BytesIO(original)) as opened:
                opened.load()
                image = opened.convert("RGBA" if "A" in opened.getbands() else "RGB")
                carried = {
                    k: opened.info[k]
                    for k in ("exif", "icc_profile", "xmp")
                    if isinstance(opened.info.get(k), bytes)
                }
            w, h = image.size
            variants = {
                "full": image,
                "crop-a": image.crop((0, 0, w // 2, h // 2)),
                "crop-b": image.crop((w // 4, h // 3, w, h)),
            }
            for variant, picture in variants.items():
                for fmt in ("PNG", "JPEG", "WEBP"):
                    pic = picture.convert("RGB") if fmt == "JPEG" else picture
                    buffer = io.BytesIO()
                    keep = {k: v for k, v in carried.items() if fmt != "PNG" or k != "xmp"}
                    pic.save(buffer, format=fmt, **keep)
                    yield f"{origin}/{name}:{variant}.{fmt.lower()}", buffer.getvalue()


def alpha_noise(seed: int, size: tuple[int, int] = (64, 64)) -> Image.Image:
    """RGBA noise, alpha included (so alpha LSBs are random, with no signature)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 4), dtype=np.uint8)
    return Image.fromarray(pixels, "RGBA")


def positive_fixtures() -> list[tuple[str, bytes, str]]:
    """``(name, bytes, expected label)`` for every generator format built here."""
    return [
        ("a1111-png", png_with_text({"parameters": A1111_PARAMETERS}), "a1111"),
        (
            "a1111-jpeg-unicode-be",
            encoded("JPEG", exif=exif_bytes({}, {0x9286: a1111_user_comment(A1111_PARAMETERS)})),
            "a1111",
        ),
        (
            "a1111-webp-unicode-le",
            encoded(
                "WEBP",
                exif=exif_bytes({}, {0x9286: a1111_user_comment(A1111_PARAMETERS, "utf-16-le")}),
            ),
            "a1111",
        ),
        (
            "a1111-jpeg-ascii",
            encoded(
                "JPEG",
                exif=exif_bytes({}, {0x9286: b"ASCII\x00\x00\x00" + A1111_PARAMETERS.encode()}),
            ),
            "a1111",
        ),
        (
            "a1111-png-itxt",
            png_with_text({"parameters": "雪の中の狐, " + A1111_PARAMETERS}),
            "a1111",
        ),
        ("a1111-png-ztxt", png_bytes(_zipped_text("parameters", A1111_PARAMETERS)), "a1111"),
        ("a1111-stealth", a1111_stealth_png(), "a1111"),
        (
            "a1111-stealth-rgb",
            png_bytes(
                None,
                embed_stealth(
                    noise_image(15, (96, 96)), A1111_PARAMETERS.encode(), "stealth_rgbinfo"
                ),
            ),
            "a1111",
        ),
        (
            "comfyui-png",
            png_with_text(
                {"prompt": json.dumps(COMFY_PROMPT), "workflow": json.dumps(COMFY_WORKFLOW)}
            ),
            "comfyui",
        ),
        ("comfyui-webp", comfy_webp(), "comfyui"),
        (
            "novelai-png",
            png_with_text(NOVELAI_CHUNKS, noise_image(5, (64, 64)).convert("RGBA")),
            "novelai",
        ),
        ("novelai-stealth", novelai_stealth_png(), "novelai"),
        (
            "invokeai-png",
            png_with_text(
                {
                    "invokeai_metadata": json.dumps(INVOKE_METADATA),
                    "invokeai_graph": json.dumps(INVOKE_GRAPH),
                }
            ),
            "invokeai",
        ),
        (
            "invokeai-legacy",
            png_with_text({"sd-metadata": json.dumps(INVOKE_LEGACY), "Dream": INVOKE_DREAM}),
            "invokeai",
        ),
        (
            "fooocus-png-json",
            png_with_text({"parameters": json.dumps(FOOOCUS_JSON), "fooocus_scheme": "fooocus"}),
            "fooocus",
        ),
        (
            "fooocus-png-a1111",
            png_with_text({"parameters": FOOOCUS_A1111, "fooocus_scheme": "a1111"}),
            "fooocus",
        ),
        (
            "fooocus-jpeg",
            encoded("JPEG", exif=fooocus_exif(json.dumps(FOOOCUS_JSON), "fooocus")),
            "fooocus",
        ),
        (
            "fooocus-webp-a1111",
            encoded("WEBP", exif=fooocus_exif(FOOOCUS_A1111, "a1111")),
            "fooocus",
        ),
        (
            "iptc-trained-jpeg",
            encoded("JPEG", xmp=iptc_xmp("trainedAlgorithmicMedia")),
            "iptc-trained-algorithmic-media",
        ),
        (
            "iptc-composite-jpeg",
            encoded(
                "JPEG", xmp=iptc_xmp("compositeWithTrainedAlgorithmicMedia", element_form=True)
            ),
            "iptc-composite-trained-algorithmic-media",
        ),
        (
            "iptc-trained-webp",
            encoded("WEBP", xmp=iptc_xmp("trainedAlgorithmicMedia", element_form=True)),
            "iptc-trained-algorithmic-media",
        ),
        (
            "iptc-trained-png",
            png_xmp(iptc_xmp("trainedAlgorithmicMedia")),
            "iptc-trained-algorithmic-media",
        ),
    ]


def _zipped_text(key: str, value: str) -> PngInfo:
    info = PngInfo()
    info.add_text(key, value, zip=True)
    return info


def png_xmp(packet: bytes) -> bytes:
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet.decode("utf-8"), zip=True)
    return png_bytes(info)
