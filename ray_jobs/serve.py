"""Online ingestion over HTTP: a Ray Serve deployment that takes one upload per request and
answers with its signed verdicts, for platforms that judge content as it is uploaded.

``POST /ingest?name=FILE&source=S`` with the file's bytes as the body returns the same JSON
object as one line of ``provreg ingest --json`` (sha256, status, error, verdicts with their
log index, signature and key id). Each replica loads the detectors once and writes through
the ledger like any other writer: the PostgreSQL advisory-lock sequencer keeps the log
gap-free across replicas, and the same bytes posted twice get the verdicts already logged,
not new ones. Bad uploads get ``status: error`` with a reason, as in batch ingestion; a body
over the intake byte limit is refused with 413 before it is read.

Concurrent requests are judged and written together (``serve.batch``: up to
``max_batch_size`` uploads gathered for at most ``batch_wait_s``): one detector call per
batch and one ledger transaction, retried on a lost connection (the registry's one retry
policy, through :class:`~registry.ingest.lifecycle.IngestLifecycle`), instead of one per
upload; each request still gets its own answer. Each replica records one ingest run (kind
``serve``) that its requests count into, and holds its owner lock while it lives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from registry.app import Registry
from registry.ingest import FileOutcome, IngestLifecycle, judge_batch, run_parameters
from registry.intake.pipeline import intake_bytes
from registry.json_lines import outcome_json
from registry.settings import Settings

ROUTE = "/ingest"
DEFAULT_SOURCE = "http"
#: Uploads judged and written together at most, and how long the first one waits for others.
MAX_BATCH_SIZE = 32
BATCH_WAIT_S = 0.01


@dataclass(frozen=True)
class Upload:
    """One request's file: its bytes, the name it was posted under and its source tag."""

    data: bytes
    name: str
    source: str


class IngestEndpoint:
    """The body of one replica: the registry, the loaded detectors and this replica's run."""

    def __init__(
        self,
        settings: Settings,
        detector_names: list[str] | None,
        max_batch_size: int = MAX_BATCH_SIZE,
        batch_wait_s: float = BATCH_WAIT_S,
    ) -> None:
        self.registry = Registry.open(settings)
        self.detectors = self.registry.detectors(detector_names)
        for detector in self.detectors:
            detector.load()
        self.lifecycle = IngestLifecycle.for_registry(
            self.registry,
            kind="serve",
            source=DEFAULT_SOURCE,
            detectors=self.detectors,
            parameters=run_parameters(self.detectors, max_batch_size=max_batch_size),
        )
        self.run_id = self.lifecycle.begin()
        # serve.batch's typing shows the wrapped call only, not its documented setters.
        self.judge.set_max_batch_size(max_batch_size)  # type: ignore[attr-defined]
        self.judge.set_batch_wait_timeout_s(batch_wait_s)  # type: ignore[attr-defined]

    async def __call__(self, request: Request) -> Response:
        """Judge and log one upload (the request body)."""
        if request.method != "POST":
            return JSONResponse(
                {"error": "POST the file's bytes"}, status_code=405, headers={"Allow": "POST"}
            )
        limit = self.registry.settings.limits.max_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return JSONResponse(
                {"error": "too-large", "detail": f"over the limit of {limit} bytes"},
                status_code=413,
            )
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return JSONResponse(
                    {"error": "too-large", "detail": f"over the limit of {limit} bytes"},
                    status_code=413,
                )
        name = request.query_params.get("name", "upload")
        source = request.query_params.get("source", DEFAULT_SOURCE)
        outcome = await self.judge(Upload(bytes(body), name, source))
        return JSONResponse(outcome_json(outcome))

    @serve.batch(max_batch_size=MAX_BATCH_SIZE, batch_wait_timeout_s=BATCH_WAIT_S)
    async def judge(self, uploads: list[Upload]) -> list[FileOutcome]:
        """The uploads that arrived together, judged and logged in one go (off the loop)."""
        return await asyncio.to_thread(self.ingest, uploads)

    def ingest(self, uploads: Sequence[Upload]) -> list[FileOutcome]:
        """Intake and every detector for the uploads, then one ledger transaction."""
        limits = self.registry.settings.limits
        results = [intake_bytes(u.data, limits, path=u.name) for u in uploads]
        verdicts = judge_batch(results, self.detectors)
        return self.lifecycle.write(results, verdicts, sources=[u.source for u in uploads])


def deployment(
    settings: Settings,
    detector_names: list[str] | None,
    *,
    replicas: int = 1,
    num_cpus: float = 1.0,
    max_batch_size: int = MAX_BATCH_SIZE,
) -> Any:
    """The bound Serve application for :class:`IngestEndpoint`."""
    deployment_cls = serve.deployment(
        name="provreg-ingest",
        num_replicas=replicas,
        ray_actor_options={"num_cpus": num_cpus},
        max_ongoing_requests=max(8, 2 * max_batch_size),
    )(IngestEndpoint)
    return deployment_cls.bind(settings, detector_names, max_batch_size)


def start(
    settings: Settings,
    detector_names: list[str] | None,
    *,
    host: str,
    port: int,
    replicas: int = 1,
    num_cpus: float = 1.0,
    max_batch_size: int = MAX_BATCH_SIZE,
) -> str:
    """Start Serve's HTTP proxy on ``host:port`` and deploy the endpoint; return its URL."""
    serve.start(http_options={"host": host, "port": port})
    serve.run(
        deployment(
            settings,
            detector_names,
            replicas=replicas,
            num_cpus=num_cpus,
            max_batch_size=max_batch_size,
        ),
        name="provreg",
        route_prefix=ROUTE,
    )
    return f"http://{host}:{port}{ROUTE}"


def stop() -> None:
    """Remove the endpoint and Serve's proxy."""
    serve.shutdown()  # type: ignore[no-untyped-call]


def describe(url: str) -> str:
    """One line for the operator: where to POST."""
    return json.dumps(
        {
            "endpoint": url,
            "method": "POST",
            "body": "the file's bytes",
            "query": {"name": "file name (optional)", "source": "source tag"},
        }
    )
