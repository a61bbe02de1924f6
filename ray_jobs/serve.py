"""Online ingestion over HTTP: a Ray Serve deployment that takes one upload per request and
answers with its signed verdicts, for platforms that judge content as it is uploaded.

``POST /ingest?name=FILE&source=S`` with the file's bytes as the body returns the same JSON
object as one line of ``provreg ingest --json`` (sha256, status, error, verdicts with their
log index, signature and key id). Each replica loads the detectors once and writes through
the ledger like any other writer: the PostgreSQL advisory-lock sequencer keeps the log
gap-free across replicas, and the same bytes posted twice get the verdicts already logged,
not new ones. Bad uploads get ``status: error`` with a reason, as in batch ingestion; a body
over the intake byte limit is refused with 413 before it is read.

Each replica records one ingest run (kind ``serve``) that its requests count into.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from registry.app import Registry
from registry.cli import outcome_json
from registry.ingest import FileOutcome, finish_run, judge_batch, start_run, write_batch
from registry.intake import intake_bytes
from registry.settings import Settings

ROUTE = "/ingest"
DEFAULT_SOURCE = "http"


class IngestEndpoint:
    """The body of one replica: the registry, the loaded detectors and this replica's run."""

    def __init__(self, settings: Settings, detector_names: list[str] | None) -> None:
        self.registry = Registry.open(settings)
        self.detectors = self.registry.detectors(detector_names)
        for detector in self.detectors:
            detector.load()
        with self.registry.sessions.begin() as session:
            self.registry.ledger.register_key(session)
            self.run_id = start_run(session, "serve", DEFAULT_SOURCE,
                                    {"detectors": [d.name for d in self.detectors]})

    async def __call__(self, request: Request) -> Response:
        """Judge and log one upload (the request body)."""
        if request.method != "POST":
            return JSONResponse({"error": "POST the file's bytes"}, status_code=405,
                                headers={"Allow": "POST"})
        limit = self.registry.settings.limits.max_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return JSONResponse({"error": "too-large",
                                 "detail": f"over the limit of {limit} bytes"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return JSONResponse({"error": "too-large",
                                     "detail": f"over the limit of {limit} bytes"},
                                    status_code=413)
        name = request.query_params.get("name", "upload")
        source = request.query_params.get("source", DEFAULT_SOURCE)
        outcome = await asyncio.to_thread(self.ingest, bytes(body), name, source)
        return JSONResponse(outcome_json(outcome))

    def ingest(self, data: bytes, name: str, source: str) -> FileOutcome:
        """Intake, every detector, and one ledger transaction for one upload."""
        result = intake_bytes(data, self.registry.settings.limits, path=name)
        verdicts = judge_batch([result], self.detectors)
        with self.registry.sessions.begin() as session:
            (outcome,) = write_batch(session, self.registry.ledger, [result], verdicts,
                                     ingest_run_id=self.run_id, source=source)
            finish_run(session, self.run_id, [outcome])
        return outcome


def deployment(
    settings: Settings, detector_names: list[str] | None, *, replicas: int = 1,
    num_cpus: float = 1.0,
) -> Any:
    """The bound Serve application for :class:`IngestEndpoint`."""
    deployment_cls = serve.deployment(
        name="provreg-ingest", num_replicas=replicas, ray_actor_options={"num_cpus": num_cpus},
    )(IngestEndpoint)
    return deployment_cls.bind(settings, detector_names)


def start(
    settings: Settings, detector_names: list[str] | None, *, host: str, port: int,
    replicas: int = 1, num_cpus: float = 1.0,
) -> str:
    """Start Serve's HTTP proxy on ``host:port`` and deploy the endpoint; return its URL."""
    serve.start(http_options={"host": host, "port": port})
    serve.run(deployment(settings, detector_names, replicas=replicas, num_cpus=num_cpus),
              name="provreg", route_prefix=ROUTE)
    return f"http://{host}:{port}{ROUTE}"


def stop() -> None:
    """Remove the endpoint and Serve's proxy."""
    serve.shutdown()  # type: ignore[no-untyped-call]


def describe(url: str) -> str:
    """One line for the operator: where to POST."""
    return json.dumps({"endpoint": url, "method": "POST", "body": "the file's bytes",
                       "query": {"name": "file name (optional)", "source": "source tag"}})
