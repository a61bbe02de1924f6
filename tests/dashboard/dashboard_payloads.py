"""Files whose metadata, C2PA manifest, name and source carry Markdown / HTML / link payloads,
ingested through the real path, for the dashboard's untrusted-text tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from detectors.testing.c2pa_fixtures import noise_bytes, sign
from detectors.testing.metadata_fixtures import png_with_text
from registry.app import Registry
from registry.ingest import ingest_paths
from registry.settings import Settings

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: The file name carries what a name can (no "/"): a javascript: link and raw HTML.
FILE_NAME = "[open me](javascript:alert(1)) <img src=x onerror=alert(2)>.png"


def planted_url(port: int) -> str:
    """The URL the uploader hopes the investigator's browser will fetch."""
    return f"http://127.0.0.1:{port}/pixel.png?viewer=investigator"


def payload(port: int) -> str:
    """Every way Markdown or HTML could turn text into a fetch or a link."""
    url = planted_url(port)
    return (
        f"![pixel]({url}) [Verify your account]({url}&link=1) "
        f'<img src="{url}&html=1"> <a href="{url}&a=1">a</a> '
        f"[run](javascript:alert(document.cookie)) **bold** {url}&autolink=1 "
        f"<{url}&angle=1>"
    )


@dataclass(frozen=True)
class Planted:
    """The ingested payload assets."""

    metadata: str  # sha256 of the PNG with A1111 text and a comment chunk
    c2pa: str  # sha256 of the JPEG with a signed manifest
    named: Path  # the PNG under its hostile file name


def ingest_payloads(settings: Settings, folder: Path, port: int) -> Planted:
    """Write and ingest the payload files (source is a payload too); returns their hashes."""
    text = payload(port)
    folder.mkdir(parents=True, exist_ok=True)
    png = folder / FILE_NAME
    png.write_bytes(
        png_with_text(
            {
                "parameters": f"{text}\nNegative prompt: {text}\n"
                "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 64x48",
                "Comment": text,
            }
        )
    )
    jpeg = folder / "c2pa.jpg"
    jpeg.write_bytes(
        sign(
            noise_bytes(7),
            "JPEG",
            {
                "claim_generator_info": [{"name": text, "version": "1.0"}],
                "title": text,
                "assertions": [
                    {
                        "label": "c2pa.actions",
                        "data": {
                            "actions": [
                                {
                                    "action": "c2pa.created",
                                    "digitalSourceType": TRAINED,
                                    "softwareAgent": {"name": text, "version": "1.0"},
                                }
                            ]
                        },
                    }
                ],
            },
        )
    )
    registry = Registry.open(settings)
    try:
        outcomes = {
            Path(o.path or "").name: o
            for o in ingest_paths(
                registry.sessions,
                registry.ledger,
                registry.detectors(),
                [png, jpeg],
                limits=settings.limits,
                source=text,
            )
        }
    finally:
        registry.close()
    assert all(o.status == "ok" for o in outcomes.values()), outcomes
    return Planted(outcomes[FILE_NAME].sha256, outcomes["c2pa.jpg"].sha256, png)
