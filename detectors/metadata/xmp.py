"""IPTC digital source type from XMP packets, read with a hardened stdlib expat parser.

XMP is attacker-controlled XML. The packet is parsed with ``xml.parsers.expat`` directly
(no new dependency) and hardened the way ``defusedxml`` does it: any DOCTYPE is refused
outright — XMP never needs one, and refusing it refuses every internal or external entity
declaration, so entity expansion ("billion laughs") and external entities (XXE) cannot
happen — external entity references are refused, and parameter entities are never parsed.
Packets over :data:`MAX_XMP_BYTES` are skipped.

The IPTC property ``Iptc4xmpExt:DigitalSourceType`` may appear as an attribute of
``rdf:Description``, as an element with text, or as an element with ``rdf:resource``; all
three are read.
"""

from __future__ import annotations

import xml.parsers.expat
from collections.abc import Callable

from detectors.metadata.findings import Finding, ParseResult, clip

MAX_XMP_BYTES = 4 * 1024 * 1024
IPTC_EXT_NS = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_SEP = "\x1f"
_DST = f"{IPTC_EXT_NS}{_SEP}DigitalSourceType"
_RESOURCE = f"{RDF_NS}{_SEP}resource"
_CODES_PREFIX = "cv.iptc.org/newscodes/digitalsourcetype/"

LABELS = {
    "trainedAlgorithmicMedia": "iptc-trained-algorithmic-media",
    "compositeWithTrainedAlgorithmicMedia": "iptc-composite-trained-algorithmic-media",
}


class XMPRefused(Exception):
    """The packet tried something a hardened parser refuses (DOCTYPE, entities)."""


def digital_source_types(packet: str) -> list[str]:
    """Every DigitalSourceType value in one XMP packet, in document order.

    Raises :class:`XMPRefused` for DOCTYPE/entity use and ``xml.parsers.expat.ExpatError``
    for malformed XML.
    """
    parser = xml.parsers.expat.ParserCreate(namespace_separator=_SEP)
    parser.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("DOCTYPE")
    parser.EntityDeclHandler = _refuse("entity declaration")
    parser.ExternalEntityRefHandler = _refuse_external
    values: list[str] = []
    text: list[str] | None = None

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal text
        if _DST in attrs:
            values.append(attrs[_DST].strip())
        if name == _DST:
            if _RESOURCE in attrs:
                values.append(attrs[_RESOURCE].strip())
            else:
                text = []

    def end(name: str) -> None:
        nonlocal text
        if name == _DST and text is not None:
            value = "".join(text).strip()
            if value:
                values.append(value)
            text = None

    def chars(data: str) -> None:
        if text is not None and sum(map(len, text)) < 4096:
            text.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.Parse(packet.lstrip("\ufeff \t\r\n"), True)
    return values


def _refuse(what: str) -> Callable[..., None]:
    def handler(*_args: object) -> None:
        raise XMPRefused(f"{what} refused")

    return handler


def _refuse_external(*_args: object) -> int:
    raise XMPRefused("external entity refused")


def parse_xmp(packets: list[tuple[str, str]]) -> tuple[ParseResult, list[str]]:
    """Findings for IPTC generated-media source types, and every source type seen."""
    result = ParseResult()
    seen: list[str] = []
    for packet, source in packets:
        if len(packet) > MAX_XMP_BYTES:
            result.error(source, "too-large", f"XMP packet of {len(packet)} characters skipped")
            continue
        try:
            values = digital_source_types(packet)
        except XMPRefused as exc:
            result.error(source, "xmp-refused", str(exc))
            continue
        except (xml.parsers.expat.ExpatError, ValueError) as exc:
            result.error(source, "bad-xml", str(exc))
            continue
        for value in values:
            seen.append(clip(value, 300))
            code = _code(value)
            if code in LABELS:
                result.findings.append(
                    Finding(
                        LABELS[code],
                        f"{source}:Iptc4xmpExt:DigitalSourceType",
                        {"digital_source_type": clip(value, 300)},
                    )
                )
    return result, seen


def _code(value: str) -> str:
    """The newscode name of a DigitalSourceType URI (``http`` or ``https``)."""
    stripped = value.strip()
    for scheme in ("http://", "https://"):
        if stripped.startswith(scheme + _CODES_PREFIX):
            return stripped[len(scheme + _CODES_PREFIX) :].strip("/")
    return ""
