"""Ray actors and pipelines that run detectors: ingestion, bulk re-scans, serving.

One thing happens on import, before any module here imports Ray: when ``provreg ray start``
left a local cluster running that uses token authentication and neither ``RAY_ADDRESS`` nor
``RAY_AUTH_MODE`` is set, ``RAY_AUTH_MODE`` is set to its mode. Ray reads that variable once,
when it is first imported, and a driver given the cluster's address only authenticates when
it says ``token`` (:mod:`ray_jobs.cluster`).
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


_auth_mode_for_local_cluster()
