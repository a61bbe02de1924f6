"""Ingestion: intake files, judge them with detectors, write signed verdicts to the ledger.

``batch`` judges and writes one batch; ``lifecycle`` is the one run lifecycle (begin, write
with retry, finish, checkpoint, interrupted runs, resume) every executor goes through;
``executors`` holds the in-process executor and the executor registry.
"""

from registry.ingest.batch import (
    INTAKE_DETECTOR,
    FileOutcome,
    assemble,
    count_outcomes,
    intake_error_verdict,
    judge_batch,
    run_detector,
    start_run,
    write_batch,
)
from registry.ingest.executors import (
    EXECUTOR_GROUP,
    IngestExecutor,
    executor_names,
    ingest_paths,
    inline_executor,
    load_executor,
)
from registry.ingest.lifecycle import IngestLifecycle, run_parameters
from registry.ingest.ownership import sweep_interrupted

__all__ = [
    "EXECUTOR_GROUP",
    "INTAKE_DETECTOR",
    "FileOutcome",
    "IngestExecutor",
    "IngestLifecycle",
    "assemble",
    "count_outcomes",
    "executor_names",
    "ingest_paths",
    "inline_executor",
    "intake_error_verdict",
    "judge_batch",
    "load_executor",
    "run_detector",
    "run_parameters",
    "start_run",
    "sweep_interrupted",
    "write_batch",
]
