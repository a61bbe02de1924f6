"""The per-call CPU-time budget next to the wall-clock one (detectors/base.py, issue #11)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from detectors.base import (
    CPU_BUDGET_SUPPORTED,
    DEFAULT_CPU_BUDGET_S,
    Detector,
    Sample,
    Verdict,
)
from detectors.plugins import create_detectors, registered_entry_points
from detectors.watermark.detector import WatermarkDetector
from registry.settings import Settings

needs_cpu_clock = pytest.mark.skipif(
    not CPU_BUDGET_SUPPORTED, reason="no per-thread CPU clock on this platform"
)


class _Burner(Detector):
    """Spins the CPU on ``spin`` (pure Python, ends by itself), sleeps on ``nap``."""

    name = "burner"
    version = "1"

    def detect_one(self, sample: Sample) -> Verdict:
        if sample.sha256 == "spin":
            # Bounded: stops after 1.5 s of its own CPU time or 20 s of wall time.
            started, wall = time.thread_time(), time.monotonic()
            count = 0
            while time.thread_time() - started < 1.5 and time.monotonic() - wall < 20:
                count += 1
            return self.not_found(sample, evidence={"spins": count})
        if sample.sha256 == "nap":
            time.sleep(0.6)  # past a 0.3 s CPU budget in wall time, using almost no CPU
        return self.not_found(sample)


def _batch(detector: Detector, *names: str) -> list[Verdict]:
    return detector.detect_batch([Sample(name, b"", "image/png") for name in names])


@needs_cpu_clock
def test_a_call_over_its_cpu_budget_is_timed_out_and_the_batch_goes_on() -> None:
    detector = _Burner({"cpu_budget_s": 0.3, "time_budget_s": 60})
    verdicts = _batch(detector, "before", "spin", "after")
    assert [v.asset_sha256 for v in verdicts] == ["before", "spin", "after"]
    assert [v.error for v in verdicts] == [None, "timeout", None]
    timeout = verdicts[1]
    assert timeout.evidence["budget"] == "cpu"
    assert timeout.evidence["budget_s"] == 0.3
    assert timeout.evidence["detector"] == "burner"
    assert "CPU time" in str(timeout.evidence["detail"])
    assert verdicts[2].label == "not-found"


@needs_cpu_clock
def test_a_sleeping_call_is_not_charged_cpu_time() -> None:
    detector = _Burner({"cpu_budget_s": 0.3, "time_budget_s": 60})
    verdicts = _batch(detector, "nap", "after")
    assert [v.error for v in verdicts] == [None, None]
    assert [v.label for v in verdicts] == ["not-found", "not-found"]


def test_the_wall_budget_still_catches_what_burns_no_cpu() -> None:
    detector = _Burner({"cpu_budget_s": 60, "time_budget_s": 0.2})
    verdicts = _batch(detector, "nap", "after")
    assert [v.error for v in verdicts] == ["timeout", None]
    assert verdicts[0].evidence["budget"] == "wall"
    assert verdicts[0].evidence["budget_s"] == 0.2


def test_budget_options_default_and_turn_off() -> None:
    default = _Burner()
    assert default.cpu_budget_s == DEFAULT_CPU_BUDGET_S > 0
    off = _Burner({"cpu_budget_s": 0, "time_budget_s": 0})
    assert (off.cpu_budget_s, off.time_budget_s) == (0.0, 0.0)
    assert _batch(off, "nap")[0].error is None  # unbudgeted: judged on the caller's thread


def test_detectors_with_strict_options_accept_the_budgets() -> None:
    detector = WatermarkDetector({"cpu_budget_s": 2, "time_budget_s": 20})
    assert (detector.cpu_budget_s, detector.time_budget_s) == (2.0, 20.0)


def test_every_registered_detector_takes_the_budgets_from_config_toml(tmp_path: Path) -> None:
    names = list(registered_entry_points())
    tables = "".join(
        f'[detector_options."{name}"]\ncpu_budget_s = 0.5\ntime_budget_s = 3\n' for name in names
    )
    (tmp_path / "config.toml").write_text(tables)
    settings = Settings.from_env({"PROVREG_HOME": str(tmp_path)})
    detectors = create_detectors(names, settings.detector_options)
    assert [(d.name, d.cpu_budget_s, d.time_budget_s) for d in detectors] == [
        (name, 0.5, 3.0) for name in names
    ]
