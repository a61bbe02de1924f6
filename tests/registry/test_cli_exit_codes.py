"""Exit codes and error lines of every command, through the installed `provreg` script.

The contract (README "Command line"): 0 success, 1 verification failed, 2 usage /
configuration / operational error, 3 `ingest --strict` with files that could not be judged.
A typed error is one line on stderr saying what happened and what to do next, never a
traceback; click's usage errors keep click's usage text and exit 2.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry.testing.badfiles import noise
from registry.testing.scratch_db import PostgresAdmin

pytestmark = pytest.mark.slow  # runs the CLI end to end in subprocesses

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("provreg")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "registry"]


def provreg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        env=env,
        cwd=REPO,
        text=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line on stderr (no traceback; Ray commands may log other lines)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [
        line
        for line in result.stderr.splitlines()
        if line.startswith(("error:", "Error:", "verification failed:"))
    ]
    assert len(lines) == 1, result.stderr
    return lines[0]


def assert_typed_error(result: subprocess.CompletedProcess[str], code: int, *parts: str) -> None:
    """Exit ``code`` and exactly one stderr line, naming the problem and the next step."""
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1, result.stderr
    line = error_line(result)
    for part in parts:
        assert part in line, (part, line)
    assert "; " in line, f"no next step in {line!r}"


def assert_usage_error(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    """Click's usage error: exit 2, its usage text, one `Error:` line."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    line = error_line(result)
    assert line.startswith("Error:"), line
    for part in parts:
        assert part in line, (part, line)


@pytest.fixture
def env(provreg_env: dict[str, str]) -> dict[str, str]:
    return {**provreg_env, "PROVREG_DETECTORS": "file-facts", "PROVREG_EXECUTOR": "inline"}


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "one.png"
    noise(1, (32, 32)).save(path)
    return path


@pytest.fixture
def empty_env(pg_admin: PostgresAdmin, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A reachable database without the provreg schema (nobody ran `provreg init`)."""
    name = f"provreg_empty_{uuid.uuid4().hex[:12]}"
    url = pg_admin.create(name)
    yield {**env, "PROVREG_DATABASE_URL": url}
    pg_admin.drop(name)


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        (["--nosuch"], ["No such option"]),
        (["nosuch"], ["No such command"]),
        (["init", "extra"], ["unexpected extra argument"]),
        (["ingest"], ["Missing argument"]),
        (["show"], ["Missing argument"]),
        (["verify", "--bogus"], ["No such option"]),
        (["checkpoint", "extra"], ["unexpected extra argument"]),
        (["proof", "first"], ["not a valid integer"]),
        (["keys", "nosuch"], ["No such command"]),
        (["bank", "add"], ["Missing argument"]),
        (["bank", "threshold", "b", "999"], ["999"]),
        (["bank", "import", "b", "/no/such/file.csv"], ["does not exist"]),
        (["search"], ["Missing argument"]),
        (["users", "add", "bob", "--role", "nosuchrole"], ["nosuchrole"]),
        (["dashboard", "--port", "http"], ["not a valid integer"]),
        (["serve", "--replicas", "0"], ["0"]),
        (["rescan", "--concurrency", "0"], ["0"]),
        (["status", "--limit", "0"], ["0"]),
    ],
)
def test_usage_errors_exit_2(env: dict[str, str], args: list[str], parts: list[str]) -> None:
    assert_usage_error(provreg(env, *args), *parts)


@pytest.mark.slow
def test_version_and_plugin_help(env: dict[str, str]) -> None:
    version = provreg(env, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith("provreg, version ")
    for command in ("dashboard", "serve", "rescan", "status", "bank", "users"):
        shown = provreg(env, command, "--help")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.startswith(f"Usage: provreg {command}"), shown.stdout


@pytest.mark.parametrize("where", ["option", "environment"])
def test_unknown_detector_is_a_configuration_error(
    env: dict[str, str], image: Path, where: str
) -> None:
    if where == "option":
        result = provreg(env, "ingest", "--detector", "nosuch", str(image))
    else:
        result = provreg({**env, "PROVREG_DETECTORS": "file-facts,nosuch"}, "ingest", str(image))
    assert_typed_error(result, 2, "unknown detector(s) nosuch", "registered:", "PROVREG_DETECTORS")


@pytest.mark.slow
def test_rescan_unknown_detector_exits_2(env: dict[str, str]) -> None:
    result = provreg(env, "rescan", "--detector", "nosuch")
    assert result.returncode == 2, result.stderr
    assert "unknown detector(s) nosuch" in error_line(result)


def test_unknown_executor(env: dict[str, str], image: Path) -> None:
    assert_typed_error(
        provreg(env, "ingest", "--executor", "nosuch", str(image)), 2, "unknown executor 'nosuch'"
    )


@pytest.mark.slow
def test_proof_outside_the_log_is_not_a_verification_failure(
    env: dict[str, str], image: Path
) -> None:
    assert provreg(env, "ingest", str(image)).returncode == 0
    result = provreg(env, "proof", "999999")
    # One verdict (file-facts) and its signed sighting: two log entries.
    assert_typed_error(result, 2, "log index 999999 is not in the log (size 2)", "provreg verify")
    assert "verification failed" not in result.stderr


@pytest.mark.slow
def test_uninitialised_database(empty_env: dict[str, str]) -> None:
    for args in (["verify"], ["show", "ab"], ["keys", "list"], ["proof", "0"]):
        assert_typed_error(provreg(empty_env, *args), 2, "no provreg schema", "provreg init")
    assert provreg(empty_env, "init").returncode == 0
    assert provreg(empty_env, "verify").returncode == 0


def test_unreachable_database(env: dict[str, str]) -> None:
    down = {**env, "PROVREG_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    assert_typed_error(provreg(down, "verify"), 2, "cannot connect", "PROVREG_DATABASE_URL")


def test_bad_config_file(env: dict[str, str]) -> None:
    Path(env["PROVREG_HOME"], "config.toml").write_text("limits = [\n")
    assert_typed_error(provreg(env, "verify"), 2, "config.toml")


def test_operational_errors_of_the_other_commands(env: dict[str, str], image: Path) -> None:
    assert_typed_error(provreg(env, "show", "ab" * 32), 2, "unknown asset")
    assert_typed_error(provreg(env, "bank", "disable", "nosuchbank"), 2, "nosuchbank")
    result = provreg(env, "search", str(image.with_name("missing.png")))
    assert result.returncode == 2, result.stderr
    assert "missing.png" in result.stderr
    assert "Traceback" not in result.stderr


def test_strict_ingest_exits_3_when_a_file_cannot_be_judged(
    env: dict[str, str], image: Path
) -> None:
    bad = image.with_name("bad.png")
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    assert provreg(env, "ingest", str(image), str(bad)).returncode == 0
    strict = provreg(env, "ingest", "--strict", str(image), str(bad))
    assert strict.returncode == 3, strict.stderr
    assert "Traceback" not in strict.stderr


def _stage_commands(folder: Path, entries: dict[str, str], name: str) -> Path:
    """A dist-info in ``folder`` declaring ``provreg.commands`` entry points."""
    info = folder / f"{name}-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entries.items())
    (info / "entry_points.txt").write_text(f"[provreg.commands]\n{lines}")
    return folder


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ({"verify": "registry.cli.root:main"}, ["command 'verify'", "clashes with the built-in"]),
        ({"serve": "registry.cli.root:main"}, ["command 'serve' is registered by both"]),
    ],
)
def test_command_plugin_name_clash_is_a_typed_error(
    env: dict[str, str], tmp_path: Path, entries: dict[str, str], words: list[str]
) -> None:
    """A third-party command never silently shadows a built-in or another plugin (#13)."""
    plugins = _stage_commands(tmp_path / "plugins", entries, "provreg_clash_test")
    staged = {**env, "PYTHONPATH": f"{plugins}:{env.get('PYTHONPATH', '')}".rstrip(":")}
    assert_typed_error(provreg(staged, "--help"), 2, *words)
