"""Start-up of the command line: nothing heavy at import, lazy commands that keep their help.

Speed itself is measured in bench/cli_startup.py (docs/benchmarks.md), never timed here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = [
    "torch",
    "ray",
    "cv2",
    "faiss",
    "imwatermark",
    "streamlit",
    "argon2",
    "onnxruntime",
    "c2pa",
    "sqlalchemy",
    "alembic",
]


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout


def test_importing_the_cli_imports_no_heavy_module() -> None:
    loaded = json.loads(
        run_python(
            "import json, sys, registry.cli.root\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
        )
    )
    assert loaded == []


def test_lazy_summaries_are_the_commands_own_help() -> None:
    shown = json.loads(
        run_python(
            "import json, click\n"
            "from registry.cli.root import SUMMARIES, main\n"
            "ctx = click.Context(main, info_name='provreg')\n"
            "lazy = main.get_help(ctx)\n"
            "real = {n: main.get_command(ctx, n).get_short_help_str(1000) for n in SUMMARIES}\n"
            "eager = main.get_help(ctx)\n"
            "print(json.dumps({'summaries': SUMMARIES, 'real': real, 'lazy': lazy, 'eager': eager,"
            " 'listed': main.list_commands(ctx)}))"
        )
    )
    assert shown["summaries"] == shown["real"]
    assert shown["lazy"] == shown["eager"]
    for name in ("init", "ingest", "verify", "bank", "users", "dashboard", "rescan", "serve"):
        assert name in shown["listed"]


@pytest.mark.slow
def test_ray_jobs_and_command_plugins_do_not_import_the_command_line_module() -> None:
    """The dependency arrow: ray_jobs (and the plugin command groups) use the context and the
    JSON shapes, never ``registry.cli.root`` itself (#13)."""
    loaded = json.loads(
        run_python(
            "import json, sys\n"
            "import ray_jobs.cli, ray_jobs.serve, registry.cli.watermark, registry.cli.models\n"
            "print(json.dumps('registry.cli.root' in sys.modules))"
        )
    )
    assert loaded is False
