"""Hub libraries are forced offline: nothing a learned detector loads comes from the network."""

from __future__ import annotations

import os
from pathlib import Path

#: Variables that put Hugging Face libraries (hub, transformers, diffusers) offline.
OFFLINE_VARIABLES = (
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "DIFFUSERS_OFFLINE",
    "HF_HUB_DISABLE_TELEMETRY",
)


def force_offline(cache_dir: str | Path | None = None) -> None:
    """Set the offline switches (always) and point the caches at ``cache_dir`` (if given).

    Called before a hub library is imported; a library imported earlier still reads
    ``HF_HUB_OFFLINE`` when it would download, so the switch holds either way.
    """
    for variable in OFFLINE_VARIABLES:
        os.environ[variable] = "1"
    if cache_dir is not None:
        root = Path(cache_dir)
        os.environ["HF_HOME"] = str(root / "huggingface")
        os.environ["TORCH_HOME"] = str(root / "torch")
