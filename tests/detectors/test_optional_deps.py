"""Missing optional dependencies: one line naming the extra to install, exit 2, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from detectors.optional import MissingDependencyError, check_installed, require

MISSING = "provreg_test_no_such_module"


def test_require_returns_the_module_or_names_the_extra() -> None:
    assert require("json", extra="gpu") is json
    with pytest.raises(MissingDependencyError) as raised:
        require(MISSING, extra="gpu", feature="FAISS on GPU")
    error = raised.value
    assert isinstance(error, ImportError)
    assert (error.module, error.extra) == (MISSING, "gpu")
    assert str(error) == f"FAISS on GPU needs the Python module {MISSING!r}, which is not installed"
    assert "install provreg[gpu]" in error.hint


def test_check_installed_does_not_import() -> None:
    check_installed("json", extra="dashboard")
    with pytest.raises(MissingDependencyError, match=MISSING):
        check_installed(f"{MISSING}.sub", extra="dashboard")


@pytest.mark.parametrize(
    ("raise_code", "line"),
    [
        (
            f"from detectors.optional import require; require({MISSING!r}, extra='gpu')",
            f"error: needs the Python module {MISSING!r}, which is not installed; "
            "install provreg[gpu]",
        ),
        (
            f"import {MISSING}",
            f"error: the Python module {MISSING!r} is missing; reinstall provreg",
        ),
    ],
)
def test_the_command_line_turns_them_into_one_line(raise_code: str, line: str) -> None:
    code = (
        "import registry.cli.errors as e\n"
        "try:\n"
        f"    {raise_code}\n"
        "except BaseException as exc:\n"
        "    e.fail(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(line), result.stderr


def test_a_ray_failure_is_one_line_and_an_unknown_bug_keeps_its_traceback() -> None:
    code = (
        "import registry.cli.errors as e\n"
        "Err = type('RaySystemError', (Exception,), {'__module__': 'ray.exceptions'})\n"
        "try:\n"
        "    raise Err('could not reach the GCS\\nsecond line')\n"
        "except BaseException as exc:\n"
        "    e.fail(exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr == (
        "error: Ray failed: RaySystemError: could not reach the GCS; "
        "check RAY_ADDRESS (unset: a local Ray is started) and "
        "`ray status`\n"
    )
    bug = subprocess.run(
        [
            sys.executable,
            "-c",
            "import registry.cli.errors as e\ntry:\n    1/0\n"
            "except BaseException as exc:\n    e.fail(exc)\n",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bug.returncode == 2
    assert "Traceback" in bug.stderr
    assert bug.stderr.splitlines()[-1].startswith(
        "error: ZeroDivisionError: division by zero; this is a bug in provreg"
    )
