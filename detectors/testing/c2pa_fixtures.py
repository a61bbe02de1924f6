"""C2PA test fixtures made on the spot: a throw-away PKI, signed JPEG/PNG images, a null set.

Nothing is downloaded. The PKI is a P-256 root CA and a leaf with the profile C2PA asks of a
claim signer (v3, not a CA, critical ``digitalSignature`` key usage, ``emailProtection`` EKU,
issued by the root, not self-signed); images are signed with c2pa-python's ``Builder``. The
null set is the real photographs shipped with scikit-image and scikit-learn, which carry no
Content Credentials. Used by tests/detectors/test_c2pa_detector.py and bench/c2pa_eval.py.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import c2pa
import numpy as np
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from PIL import Image

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
COMPOSITE_TRAINED = IPTC + "compositeWithTrainedAlgorithmicMedia"
ALGORITHMIC = IPTC + "algorithmicMedia"
DIGITAL_CAPTURE = IPTC + "digitalCapture"
MIME = {"JPEG": "image/jpeg", "PNG": "image/png"}

#: The named null set: every real photograph shipped with scikit-image and scikit-learn.
NULL_SET_NAMES = (
    "astronaut",
    "camera",
    "coffee",
    "chelsea",
    "rocket",
    "moon",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "grass",
    "gravel",
    "brick",
    "china",
    "flower",
)


@dataclass(frozen=True)
class Pki:
    """A root CA and a C2PA claim-signing leaf issued by it (all PEM)."""

    root_pem: bytes
    chain_pem: bytes
    key_pem: bytes

    def signer(self) -> c2pa.Signer:
        """A fresh c2pa Signer (a Builder consumes one per signing)."""
        info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, self.chain_pem, self.key_pem, None)
        return c2pa.Signer.from_info(info)


def make_pki(ocsp_url: str | None = None) -> Pki:
    """Generate a root and a leaf; ``ocsp_url`` puts an OCSP responder in the leaf's AIA."""
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("provreg test root CA")
    root = (
        _base(root_name, root_name, root_key.public_key(), now, days=3650)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _base(_name("provreg test signer"), root_name, leaf_key.public_key(), now, days=365)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
    )
    if ocsp_url is not None:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    leaf = builder.sign(root_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    return Pki(
        root_pem=root.public_bytes(pem),
        chain_pem=leaf.public_bytes(pem) + root.public_bytes(pem),
        key_pem=leaf_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


@functools.lru_cache(maxsize=1)
def default_pki() -> Pki:
    """One PKI shared by a test session."""
    return make_pki()


# --- manifests ---------------------------------------------------------------------------


def created_manifest(source_type: str, title: str = "fixture") -> dict[str, Any]:
    """A manifest whose one action creates the asset with ``source_type``."""
    action = {
        "action": "c2pa.created",
        "digitalSourceType": source_type,
        "softwareAgent": {"name": "provreg-fixture-generator", "version": "1.0"},
        "when": "2026-01-02T03:04:05Z",
    }
    return _manifest(title, [action])


def opened_manifest(title: str = "derived", edit: str = "c2pa.color_adjustments") -> dict[str, Any]:
    """A manifest that opens its parent ingredient (label ``parent``) and edits it.

    C2PA 2 claims must start with ``c2pa.created`` or ``c2pa.opened``; an edit is therefore
    always recorded against an opened parent, with no digital source type of its own.
    """
    return _manifest(
        title,
        [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}},
            {"action": edit, "softwareAgent": "provreg-fixture-editor"},
        ],
    )


def sign_derivative(parent: bytes, parent_fmt: str, fmt: str, edit: str = "c2pa.edited") -> bytes:
    """Re-encode ``parent`` as ``fmt`` and sign it as an edit of ``parent`` (its ingredient)."""
    ingredient = {
        "title": f"parent.{parent_fmt.lower()}",
        "relationship": "parentOf",
        "label": "parent",
    }
    return sign(
        strip(parent, fmt),
        fmt,
        opened_manifest(f"derived.{fmt.lower()}", edit),
        ingredients=[(ingredient, parent, MIME[parent_fmt])],
    )


def _manifest(title: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "claim_generator_info": [{"name": "provreg-tests", "version": "1.0"}],
        "title": title,
        "assertions": [{"label": "c2pa.actions", "data": {"actions": actions}}],
    }


# --- images and signing ---------------------------------------------------------------


def noise_bytes(seed: int, fmt: str = "JPEG", size: int = 96) -> bytes:
    """A deterministic noise image encoded as ``fmt``."""
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)), fmt)


def encode(image: Image.Image, fmt: str) -> bytes:
    """Encode ``image`` as JPEG or PNG bytes."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


def sign(
    data: bytes,
    fmt: str,
    manifest: dict[str, Any],
    pki: Pki | None = None,
    ingredients: Sequence[tuple[dict[str, Any], bytes, str]] = (),
    remote_url: str | None = None,
) -> bytes:
    """Sign ``data`` (JPEG or PNG) with ``manifest``; returns the asset with its manifest.

    With ``remote_url`` the manifest is not embedded: the asset only points at that URL and
    the manifest store is left for the caller (see :func:`sign_remote`).
    """
    return sign_remote(data, fmt, manifest, pki, ingredients, remote_url)[0]


def sign_remote(
    data: bytes,
    fmt: str,
    manifest: dict[str, Any],
    pki: Pki | None = None,
    ingredients: Sequence[tuple[dict[str, Any], bytes, str]] = (),
    remote_url: str | None = None,
) -> tuple[bytes, bytes]:
    """Like :func:`sign`, also returning the manifest store bytes."""
    pki = pki or default_pki()
    context = c2pa.Context.from_dict({"version": 1, "builder": {"thumbnail": {"enabled": False}}})
    with c2pa.Builder(manifest, context) as builder:
        for ingredient, ingredient_data, ingredient_mime in ingredients:
            builder.add_ingredient(ingredient, ingredient_mime, io.BytesIO(ingredient_data))
        if remote_url is not None:
            builder.set_no_embed()
            builder.set_remote_url(remote_url)
        out = io.BytesIO()
        store = builder.sign(pki.signer(), MIME[fmt], io.BytesIO(data), out)
    return out.getvalue(), bytes(store)


def tamper(data: bytes, fmt: str) -> bytes:
    """Change pixels after signing, leaving the manifest in place and the file decodable.

    JPEG: one byte of the entropy-coded scan is changed (decoders shrug it off). PNG: the
    image data chunks are replaced by a valid re-encoding of the pixels with one pixel
    changed, so CRCs and zlib streams stay intact and only the signed hash can tell.
    """
    if fmt == "JPEG":
        changed = bytearray(data)
        changed[len(data) - 64] ^= 0x5A  # inside the scan, before EOI
        return bytes(changed)
    image = Image.open(io.BytesIO(data)).convert("RGB")
    pixel = image.getpixel((0, 0))
    assert isinstance(pixel, tuple)
    image.putpixel((0, 0), tuple(255 - channel for channel in pixel))
    chunks = _png_chunks(data)
    new_idat = b"".join(raw for kind, raw in _png_chunks(encode(image, "PNG")) if kind == b"IDAT")
    out = [data[:8]]
    for kind, raw in chunks:
        if kind == b"IDAT":
            out.append(new_idat)
            new_idat = b""
        else:
            out.append(raw)
    return b"".join(out)


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into ``(type, raw chunk bytes)`` pairs."""
    chunks = []
    at = 8
    while at + 8 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        chunks.append((data[at + 4 : at + 8], data[at : at + 12 + length]))
        at += 12 + length
    return chunks


def strip(data: bytes, fmt: str) -> bytes:
    """Decode and re-encode: the pixels survive, the manifest does not."""
    return encode(Image.open(io.BytesIO(data)), fmt)


# --- the null set ----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def null_photos() -> tuple[tuple[str, Image.Image], ...]:
    """The named null set: real photographs with no Content Credentials."""
    import skimage.data
    from sklearn.datasets import load_sample_images

    sklearn_images = dict(zip(("china", "flower"), load_sample_images().images, strict=True))
    photos: list[tuple[str, Image.Image]] = []
    for name in NULL_SET_NAMES:
        array = sklearn_images[name] if name in sklearn_images else getattr(skimage.data, name)()
        photos.append((name, Image.fromarray(np.asarray(array))))
    return tuple(photos)


def null_files(formats: Iterable[str] = ("JPEG", "PNG")) -> list[tuple[str, bytes]]:
    """Every null-set photo encoded in each of ``formats``: ``(name.fmt, bytes)``."""
    return [
        (f"{name}.{fmt.lower()}", encode(image, fmt))
        for name, image in null_photos()
        for fmt in formats
    ]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "provreg tests"),
        ]
    )


def _base(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePublicKey,
    now: dt.datetime,
    days: int,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
