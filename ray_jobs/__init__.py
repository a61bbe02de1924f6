"""Ray actors and pipelines that run detectors: ingestion, bulk re-scans, serving.

Two things happen on import, before any module here imports Ray (Ray reads both variables
once, when it is first imported):

- when ``provreg ray start`` left a local cluster running that uses token authentication and
  neither ``RAY_ADDRESS`` nor ``RAY_AUTH_MODE`` is set, ``RAY_AUTH_MODE`` is set to its mode:
  a driver given the cluster's address only authenticates when it says ``token``
  (:mod:`ray_jobs.cluster`);
- when provreg is quiet (no ``--verbose`` / ``--log-level``), Ray's log de-duplication is
  turned off (``RAY_DEDUP_LOGS=0``) unless set: it holds repeated worker lines back and
  flushes them from the *main* thread at shutdown, which :mod:`ray_jobs.runtime` cannot tell
  from the command's own output, so ``(raylet) Task ... failed`` lines reached ``--json``
  stdout. Without it every such line is printed by Ray's listener thread, into the log file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def _auth_mode_for_local_cluster() -> None:
    if "RAY_AUTH_MODE" in os.environ or os.environ.get("RAY_ADDRESS"):
        return
    home = Path(os.environ.get("PROVREG_HOME") or Path.home() / ".provreg").expanduser()
    try:
        state = json.loads((home / "ray" / "cluster.json").read_text(encoding="utf-8"))
        mode, pid = state.get("auth_mode"), int(state["pid"])
        os.kill(pid, 0)  # the keeper still runs (ray_jobs.cluster checks it precisely)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return
    if isinstance(mode, str) and mode:
        os.environ["RAY_AUTH_MODE"] = mode


def _no_log_dedup_when_quiet() -> None:
    if not os.environ.get("PROVREG_LOG_LEVEL"):
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")


_auth_mode_for_local_cluster()
_no_log_dedup_when_quiet()
