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

import gzip
import io
import json
import struct
import zlib
from typing import Any

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from detectors.testing.metadata_records import (
    A1111_PARAMETERS,
    COMFY_PROMPT,
    COMFY_WORKFLOW,
    DST,
    FOOOCUS_A1111,
    FOOOCUS_JSON,
    INVOKE_DREAM,
    INVOKE_GRAPH,
    INVOKE_LEGACY,
    INVOKE_METADATA,
    NOVELAI_CHUNKS,
)
from detectors.testing.samples import noise_image


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
