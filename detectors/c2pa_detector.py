"""The C2PA detector: reads and validates Content Credentials with c2pa-python, fully offline.

Label ``c2pa`` whenever an asset carries a readable manifest store; the verdict is positive
when the active manifest, or the manifest of an ingredient the asset was made from, declares
a generated digital source type (see :mod:`detectors.c2pa_evidence`). Evidence holds the
validation state (``Invalid`` / ``Valid`` / ``Trusted``), every status code, the claim
generator, the signature, every action and every ingredient.

Offline by construction: every read goes through a :class:`c2pa.Context` built in
:meth:`C2paDetector.load` (never a process-wide setting) with remote manifest fetching and
OCSP fetching off and an empty network allow-list, so c2pa-rs may open no connection at all.
An asset whose manifest lives only at a remote URL is reported as not found, with the URL.

Trust: option ``trust_anchors`` names a PEM bundle of root certificates. A manifest signed by
a chain to one of them validates as ``Trusted``; without anchors nothing is trusted and
``Valid`` is the best state. The bundle's SHA-256 is the detector's ``model_checksum``, so
verdicts made under different anchors never collide in the ledger.

``p_value`` is always ``None``: the check is cryptographic, not statistical. ``score`` ranks
how far the declaration can be relied on (1.0 Trusted, 0.8 Valid, 0.3 Invalid; 0.1 less when
the declaration comes only from an ingredient); it is 0.0 for a manifest that declares no
generated source.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import c2pa
from cryptography import x509

from detectors.base import Detector, JSONValue, Resources, Sample, Verdict
from detectors.c2pa_evidence import Declaration, declarations, failure_codes, manifest_evidence

LABEL = "c2pa"

_STATE_SCORES = {"Trusted": 1.0, "Valid": 0.8, "Invalid": 0.3}
_INGREDIENT_PENALTY = 0.1
_REMOTE_URL = re.compile(r"(?:from url|remote URI)\s+\"?([^\s\"]+)")


class C2paConfigError(Exception):
    """The detector's options cannot work (for example an unreadable trust-anchor bundle)."""


def offline_settings(trust_anchors_pem: str | None) -> dict[str, Any]:
    """The c2pa settings every read uses: no network, trust only the given anchors."""
    settings: dict[str, Any] = {
        "version": 1,
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "verify_timestamp_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
        # An empty allow-list refuses every host: defence in depth for any fetch c2pa-rs
        # might add (OCSP, did:web, remote manifests) beyond the two switches above.
        "core": {"allowed_network_hosts": []},
    }
    if trust_anchors_pem is not None:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
    return settings


class C2paDetector(Detector):
    """Reads C2PA Content Credentials and flags manifests that declare generated media."""

    name: ClassVar[str] = "c2pa"
    version: ClassVar[str] = "1.0.0"
    media_types: ClassVar[frozenset[str]] = frozenset(
        {"image/*", "video/*", "audio/*", "application/pdf"}
    )
    resources: ClassVar[Resources] = Resources(num_cpus=0.5, memory_mb=512)

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._context: c2pa.Context | None = None
        self._anchors_sha256: str | None = None
        self._mime_types: frozenset[str] = frozenset()

    @property
    def model_checksum(self) -> str | None:
        """SHA-256 of the trust-anchor bundle the verdicts were judged under, if any."""
        return self._anchors_sha256

    def load(self) -> None:
        """Read the trust anchors and build the offline c2pa Context used for every read."""
        anchors_pem = _read_anchors(self.options.get("trust_anchors"))
        if anchors_pem is not None:
            self._anchors_sha256 = hashlib.sha256(anchors_pem.encode()).hexdigest()
        try:
            self._context = c2pa.Context.from_dict(offline_settings(anchors_pem))
            self._mime_types = frozenset(c2pa.Reader.get_supported_mime_types())
        except c2pa.C2paError as exc:
            raise C2paConfigError(f"c2pa rejected the detector settings: {exc}") from exc
        super().load()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the native c2pa Context; the copy rebuilds it in :meth:`load`."""
        state = super().__getstate__()
        state.update(_context=None, _loaded=False)
        return state

    def detect_one(self, sample: Sample) -> Verdict:
        """Read and validate ``sample``'s manifest store; never raises."""
        if not sample.data:
            return self.error(sample, "empty-input")
        if self._context is None:
            self.load()
        try:
            store = self._read(sample)
        except c2pa.C2paError as exc:
            return self._from_c2pa_error(sample, exc)
        except Exception as exc:  # the binding may raise anything on hostile bytes
            return self.error(sample, "c2pa-library-error", _exception(exc, sample))
        if store is None:
            return self.not_found(sample, evidence={"manifest_present": False})
        return self._judge(sample, store)

    # --- reading ----------------------------------------------------------------------

    def _read(self, sample: Sample) -> dict[str, Any] | None:
        fmt = sample.media_type if sample.media_type in self._mime_types else None
        reader = c2pa.Reader.try_create(fmt, io.BytesIO(sample.data), None, self._context)
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
        if not isinstance(store, dict):
            raise c2pa.C2paError("manifest store JSON is not an object")
        return store

    def _from_c2pa_error(self, sample: Sample, exc: c2pa.C2paError) -> Verdict:
        message = str(exc)
        if isinstance(exc, c2pa.C2paError.RemoteManifest) or message.startswith("Remote"):
            match = _REMOTE_URL.search(message)
            return self.not_found(
                sample,
                evidence={
                    "manifest_present": False,
                    "remote_manifest_url": match.group(1) if match else None,
                    "reason": "the asset points at a remote manifest, which is never fetched",
                },
            )
        if isinstance(exc, c2pa.C2paError.NotSupported):
            return self.error(sample, "unsupported-format", _exception(exc, sample))
        return self.error(sample, "c2pa-unreadable", _exception(exc, sample))

    # --- judging ----------------------------------------------------------------------

    def _judge(self, sample: Sample, store: dict[str, Any]) -> Verdict:
        evidence = manifest_evidence(store)
        found = declarations(store)
        generative = [d for d in found if d.generative]
        state = evidence["validation_state"]
        positive = bool(generative)
        evidence["manifest_present"] = True
        evidence["source_type_declarations"] = [d.to_json() for d in found]
        evidence["declares_generated"] = positive
        evidence["declares_trained_model"] = any(d.trained for d in generative)
        evidence["failure_codes"] = list[JSONValue](failure_codes(store))
        evidence["trust_anchors_sha256"] = self._anchors_sha256
        evidence["why"] = _why(generative, state)
        score = 0.0
        if positive:
            score = _STATE_SCORES.get(str(state), 0.3)
            if all(d.via_ingredient for d in generative):
                score = round(score - _INGREDIENT_PENALTY, 3)
        return self.verdict(sample, LABEL, positive, score=score, p_value=None, evidence=evidence)


def _why(generative: list[Declaration], state: JSONValue) -> str:
    if not generative:
        return "manifest declares no generated digital source type"
    first = generative[0]
    where = "an ingredient's manifest" if first.via_ingredient else "the active manifest"
    text = f"{where} declares {first.code} ({first.assertion}"
    text += f", {first.action})" if first.action else ")"
    if state == "Invalid":
        text += "; the manifest does NOT validate, so the claim is unverified"
    return text


def _exception(exc: Exception, sample: Sample) -> dict[str, JSONValue]:
    return {
        "exception": type(exc).__name__.lstrip("_"),
        "message": str(exc)[:500],
        "media_type": sample.media_type,
        "decodes_as_image": sample.image is not None,
    }


def _read_anchors(option: object) -> str | None:
    """The PEM text of the trust-anchor bundle named by the ``trust_anchors`` option."""
    if option is None or option == "":
        return None
    if not isinstance(option, str | Path):
        raise C2paConfigError(f"trust_anchors must be a path to a PEM bundle, got {option!r}")
    path = Path(option)
    try:
        pem = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise C2paConfigError(f"cannot read trust anchors {path}: {exc}") from exc
    # c2pa-rs silently ignores an anchor it cannot parse (and then trusts nothing without
    # saying so), so the bundle is parsed here first and a bad one refused outright.
    try:
        certificates = x509.load_pem_x509_certificates(pem.encode("ascii"))
    except ValueError as exc:
        raise C2paConfigError(f"trust anchors {path}: not PEM certificates: {exc}") from exc
    if not certificates:
        raise C2paConfigError(f"trust anchors {path} hold no certificate")
    return pem
