"""Connecting to Ray: a running cluster when there is one, else a local instance; quietly.

Which Ray: ``RAY_ADDRESS`` when set (a cluster, or ``auto``); else the local cluster
``provreg ray start`` left running (:mod:`ray_jobs.cluster`), so a command attaches in about a
second instead of paying Ray's start-up; else a local Ray started for this process only.
``num_cpus`` is only passed when this process starts a local Ray; a cluster decides its own
resources. GPUs are requested from Ray only when the cluster has some: a detector declaring
``num_gpus`` runs on CPU on a CPU-only cluster instead of waiting forever for a GPU.

Quiet by default: Ray's own log lines (its Python loggers, deprecation warnings, the C++
``core_worker.cc`` lines and the ``(raylet)`` task-failure lines it writes straight to the
process's stdout/stderr) go to a file under ``$PROVREG_HOME/logs/`` and never to the terminal,
so ``--json`` output on stdout stays one JSON object per line. The documented knobs do most of
it (``log_to_driver=False``, the ``ray`` and ``ray.data`` loggers, Ray Data's progress bars
off); what Ray's C++ core writes to file descriptors 1 and 2 can only be caught there, so in
a real terminal session those descriptors are pointed at the log file while ``sys.stdout`` and
``sys.stderr`` keep writing to the terminal. ``provreg --verbose`` / ``--log-level LEVEL``
(environment ``PROVREG_LOG_LEVEL``) leave everything on the terminal at that level, on
standard error: standard output stays the command's own.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

import ray

from registry.settings import Settings

#: Detector actors per pool unless the cluster is smaller.
DEFAULT_MAX_ACTORS = 4
#: Set by ``provreg --verbose`` / ``--log-level``; unset means quiet (logs to a file).
LOG_LEVEL_ENV = "PROVREG_LOG_LEVEL"
#: Loggers Ray and its libraries log through (children propagate to these).
RAY_LOGGERS = ("ray", "ray.data", "ray.serve", "ray.train", "ray.tune")


def ensure_ray(settings: Settings, *, num_cpus: int | None = None) -> None:
    """Initialise Ray once per process: ``RAY_ADDRESS``, provreg's local cluster, or a new one."""
    if ray.is_initialized():
        return
    quiet = log_level() is None
    log_file = quiet_ray_logs(settings) if quiet else None
    options: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": not quiet}
    if log_file is None:
        options["logging_level"] = log_level() or "INFO"
        _keep_stdout_for_output()
    address = settings.ray_address or attach_address(settings)
    if address:
        ray.init(address=address, **options)
        return
    if num_cpus is None and os.environ.get("PROVREG_RAY_NUM_CPUS"):
        num_cpus = int(os.environ["PROVREG_RAY_NUM_CPUS"])
    ray.init(num_cpus=num_cpus, include_dashboard=False, **options)


def attach_address(settings: Settings) -> str | None:
    """The GCS address of the local cluster ``provreg ray start`` started, if it still runs.

    (Its token authentication is arranged when :mod:`ray_jobs` is imported, see there.)
    """
    from ray_jobs.cluster import running_cluster

    state = running_cluster(settings.home)
    return None if state is None else state.address


def log_level() -> str | None:
    """The level chosen with ``--verbose`` / ``--log-level``; None means quiet."""
    return os.environ.get(LOG_LEVEL_ENV) or None


def logs_dir(settings: Settings) -> Path:
    """Where provreg writes the logs of Ray runs."""
    return settings.home / "logs"


_log_file: Path | None = None


def quiet_ray_logs(settings: Settings, *, name: str = "ray") -> Path:
    """Route Ray's log lines in this process to ``$PROVREG_HOME/logs/<name>-<time>-<pid>.log``.

    Idempotent per process; returns the file.
    """
    global _log_file
    if _log_file is not None:
        return _log_file
    folder = logs_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for logger_name in RAY_LOGGERS:
        logger = logging.getLogger(logger_name)
        for old in list(logger.handlers):
            if isinstance(old, logging.StreamHandler) and not isinstance(old, logging.FileHandler):
                logger.removeHandler(old)
        logger.propagate = False
        logger.addHandler(handler)
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.addHandler(handler)
    warnings_logger.propagate = False
    logging.captureWarnings(True)
    # Ray Data configures its logger when first imported; this documented setting makes it
    # log to the same file instead of the console (JSON is valid YAML).
    data_config = path.with_suffix(".ray-data.yaml")
    data_config.write_text(
        json.dumps(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {
                    "plain": {"format": "%(asctime)s %(levelname)s ray.data: %(message)s"}
                },
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "filename": str(path),
                        "formatter": "plain",
                    }
                },
                "loggers": {
                    "ray.data": {"level": "INFO", "handlers": ["file"], "propagate": False}
                },
            }
        ),
        encoding="utf-8",
    )
    os.environ["RAY_DATA_LOGGING_CONFIG"] = str(data_config)
    _route_descriptors(path)
    _log_file = path
    return path


def _route_descriptors(path: Path) -> None:
    """Point fds 1 and 2 at ``path``; keep the main thread's ``sys.stdout`` / ``sys.stderr``.

    Only when both streams are the process's own (a real command line, not a test runner's
    captured streams). Ray's C++ core writes to the descriptors directly, and Ray's
    error-listener thread prints ``(raylet) ...`` lines through ``sys.stdout`` from its own
    thread (no setting turns it off): writes from threads other than the main one go to the
    log file, the command's own output (written on the main thread) to the terminal.
    """
    out, err = sys.stdout, sys.stderr
    if out is not sys.__stdout__ or err is not sys.__stderr__ or out is None or err is None:
        return
    try:
        out_fd, err_fd = out.fileno(), err.fileno()
    except (AttributeError, OSError, ValueError):
        return
    out.flush()
    err.flush()
    log = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives with the process)
    sys.stdout = ThreadRoutedStream(_reopen(out_fd, out), log)
    sys.stderr = ThreadRoutedStream(_reopen(err_fd, err), log)
    os.dup2(log.fileno(), out_fd)
    os.dup2(log.fileno(), err_fd)


def _keep_stdout_for_output() -> None:
    """With ``--verbose``: Ray's lines printed from its threads go to stderr, not stdout.

    Standard output stays the command's own (one JSON object per line with ``--json``).
    """
    out, err = sys.stdout, sys.stderr
    if out is not sys.__stdout__ or err is not sys.__stderr__ or out is None or err is None:
        return
    sys.stdout = ThreadRoutedStream(out, err)


def _reopen(fd: int, like: TextIO) -> TextIO:
    """A new text stream on a duplicate of ``fd`` with ``like``'s encoding and buffering."""
    return os.fdopen(
        os.dup(fd),
        "w",
        encoding=like.encoding,
        errors=like.errors,
        buffering=1 if like.line_buffering else -1,
    )


class ThreadRoutedStream(io.TextIOBase):
    """Text written on the main thread goes to ``terminal``, from other threads to ``log``.

    (``log`` is the log file when quiet, standard error with ``--verbose``.)
    """

    def __init__(self, terminal: TextIO, log: TextIO) -> None:
        super().__init__()
        self.terminal = terminal
        self.log = log

    def _target(self) -> TextIO:
        return self.terminal if threading.current_thread() is threading.main_thread() else self.log

    def write(self, text: str) -> int:  # type: ignore[override]
        """Write ``text`` to the stream for the calling thread."""
        return self._target().write(text)

    def flush(self) -> None:
        """Flush both streams."""
        self.terminal.flush()
        self.log.flush()

    def isatty(self) -> bool:
        """Whether the terminal side is a terminal."""
        return self.terminal.isatty()

    def fileno(self) -> int:
        """The terminal side's descriptor."""
        return self.terminal.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The terminal side's encoding."""
        return self.terminal.encoding

    def writable(self) -> bool:
        """Always writable."""
        return True


def cluster_cpus() -> float:
    """CPUs the cluster has in total (at least 1)."""
    return max(1.0, float(_resources().get("CPU", 1.0)))


def cluster_gpus() -> float:
    """GPUs the cluster has in total (0 on a CPU-only cluster)."""
    return float(_resources().get("GPU", 0.0))


def _resources() -> dict[str, float]:
    resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
    return resources
