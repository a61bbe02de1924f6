"""The detector contract: one abstract base class, the sample it reads, the verdict it returns.

A detector declares its name, version, the media types it judges and the resources one
instance needs. ``load()`` runs once per process or Ray actor (weights, tables); then
``detect_batch()`` turns a batch of :class:`Sample` into exactly one :class:`Verdict` per
sample, in order. A detector never raises for bad input: the base class turns any exception
raised while judging one sample into an error verdict for that sample and goes on.

Verdict conventions shared by every detector:

- ``label`` comes from the documented vocabulary (docs/labels in DESIGN.md); a detector that
  looked and found nothing uses :data:`NOT_FOUND` with ``positive=False`` — "not found",
  never "clean".
- ``error`` is set (and ``label`` is :data:`ERROR_LABEL`) when the sample could not be judged.
- ``p_value`` is the probability of a result at least this strong by chance, where the
  detector can state one; otherwise ``None``.

Budgets: each :meth:`Detector.detect_one` call has a wall-clock budget (the
``time_budget_s`` option, default :data:`DEFAULT_TIME_BUDGET_S`) and a CPU-time budget (the
``cpu_budget_s`` option, default :data:`DEFAULT_CPU_BUDGET_S`); ``0`` turns either off, e.g.
in ``config.toml`` as ``[detector_options.c2pa] time_budget_s = 20`` and ``cpu_budget_s =
10``. Past either, the sample gets a ``timeout`` error verdict whose evidence names the
detector, which budget fired (``budget``: ``"cpu"`` or ``"wall"``) and its value
(``budget_s``), and the batch goes on.

Which one fires when: the CPU budget counts only the CPU time the call's own thread used,
so it is the fair one on a loaded machine, where wall time inflates (waiting for a core, for
the GIL, for I/O) and CPU time does not: a call that computes too long is stopped by the CPU
budget after the same work however busy the machine is. The wall-clock budget catches what
burns no CPU on that thread: a call blocked on I/O or a lock, sleeping, or waiting on native
code that runs on *other* threads (torch intra-op pools, BLAS, ONNX Runtime workers), whose CPU
a per-thread clock does not count. So the wall budget should stay above the CPU budget by
the slack a loaded machine needs. The CPU clock is the thread's own
(``time.pthread_getcpuclockid`` + ``time.clock_gettime``, Linux and most Unix); where that is
unavailable only the wall-clock budget is enforced and ``cpu_budget_s`` is ignored
(:data:`CPU_BUDGET_SUPPORTED` says which).

Mechanism, and why: detectors are plain Python and C/Rust calls, and a thread cannot be
killed, while a subprocess per call would copy every decoded image across a pipe. So each
call runs on a worker thread that the caller waits on, in slices of :data:`_POLL_S`, reading
the worker's CPU clock after each slice; over a budget the thread is abandoned (it is a daemon
and finishes its call in the background) and a fresh one takes the next sample. The abandoned
call still costs CPU until it returns; the caps intake and the detectors put on their parsing
walks (registry/intake/structure.py, detectors/c2pa_detector.py) keep that finite and linear.
A single C call that holds the GIL throughout cannot be interrupted by either budget until it
returns (the waiting caller needs the GIL too). A detector that overrides
:meth:`detect_batch` (real batching on a model) is not budgeted this way.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeAlias

if TYPE_CHECKING:
    from PIL import Image

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None

NOT_FOUND = "not-found"
ERROR_LABEL = "error"
#: Wall-clock seconds one ``detect_one`` call may take (see the module docstring).
DEFAULT_TIME_BUDGET_S = 10.0
#: CPU seconds the calling thread of one ``detect_one`` call may use (see the module docstring).
DEFAULT_CPU_BUDGET_S = 5.0
TIMEOUT_REASON = "timeout"
#: Options every detector takes (a detector that rejects unknown options must allow these).
BASE_OPTIONS = frozenset({"time_budget_s", "cpu_budget_s"})
#: Whether this platform has per-thread CPU clocks, i.e. whether ``cpu_budget_s`` is enforced.
CPU_BUDGET_SUPPORTED = hasattr(time, "pthread_getcpuclockid") and hasattr(time, "clock_gettime")
#: Seconds between two looks at a running call's CPU clock.
_POLL_S = 0.05


@dataclass(frozen=True)
class Resources:
    """What one detector instance needs; Ray actor pools are sized from this."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    memory_mb: int = 512


@dataclass(frozen=True)
class Sample:
    """One media item after intake: its bytes, sniffed type and decoded pixels.

    ``image`` is the first frame decoded by the hardened intake, EXIF orientation applied,
    in its original mode (callers convert as they need). It is ``None`` for media that
    is not an image.
    """

    sha256: str
    data: bytes
    media_type: str
    image: Image.Image | None = None
    source: str | None = None
    #: Structural oddities intake tolerated while decoding (a bad CRC on an ancillary PNG
    #: chunk, data after the end marker ...); reported by the file-facts detector.
    anomalies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """What one detector concluded about one asset (before signing and logging)."""

    detector: str
    version: str
    model_checksum: str | None
    asset_sha256: str
    label: str
    positive: bool
    score: float | None = None
    p_value: float | None = None
    evidence: dict[str, JSONValue] = field(default_factory=dict)
    error: str | None = None
    elapsed_ms: float = 0.0

    @property
    def is_error(self) -> bool:
        """True when the asset could not be judged."""
        return self.error is not None


class Detector(ABC):
    """Base class for every detector, built-in or third-party.

    Subclasses set the class attributes and implement :meth:`detect_one` (or override
    :meth:`detect_batch` when the model benefits from real batching). Construction must be
    cheap and side-effect free; heavy work belongs in :meth:`load`.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    media_types: ClassVar[frozenset[str]] = frozenset({"image/*"})
    resources: ClassVar[Resources] = Resources()
    #: An option without which the detector has nothing to test (its keys, its references):
    #: the registry leaves such a detector out of the default set while the option is empty,
    #: rather than let it answer "not found" without having looked. Asked for by name, it runs.
    required_option: ClassVar[str | None] = None

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: Mapping[str, Any] = dict(options or {})
        self._loaded = False
        self.time_budget_s = _budget(self.options, "time_budget_s", DEFAULT_TIME_BUDGET_S)
        self.cpu_budget_s = _budget(self.options, "cpu_budget_s", DEFAULT_CPU_BUDGET_S)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_runners", None)  # threads do not travel to a Ray actor
        return state

    @property
    def model_checksum(self) -> str | None:
        """SHA-256 of the weights or tables the verdicts depend on; ``None`` if there are none."""
        return None

    def load(self) -> None:
        """Load weights or tables; called once per process or actor before the first batch."""
        self._loaded = True

    def accepts(self, media_type: str) -> bool:
        """Whether this detector judges media of this (sniffed) MIME type."""
        if media_type in self.media_types:
            return True
        major = media_type.split("/", 1)[0]
        return f"{major}/*" in self.media_types

    @abstractmethod
    def detect_one(self, sample: Sample) -> Verdict:
        """Judge one sample. May raise: :meth:`detect_batch` turns exceptions into errors."""

    def detect_batch(self, samples: Sequence[Sample]) -> list[Verdict]:
        """Judge a batch: exactly one verdict per sample, in the same order, never raising."""
        if not self._loaded:
            self.load()
        verdicts: list[Verdict] = []
        for sample in samples:
            started = time.perf_counter()
            if not self.accepts(sample.media_type):
                verdict = self.error(
                    sample, "unsupported-format", {"media_type": sample.media_type}
                )
            else:
                try:
                    verdict = self._budgeted(sample)
                except Exception as exc:
                    verdict = self.error(
                        sample,
                        "detector-exception",
                        {"exception": type(exc).__name__, "message": str(exc)[:500]},
                    )
            elapsed = (time.perf_counter() - started) * 1000.0
            verdicts.append(_with_elapsed(verdict, elapsed))
        return verdicts

    def _budgeted(self, sample: Sample) -> Verdict:
        cpu_budget = self.cpu_budget_s if CPU_BUDGET_SUPPORTED else 0.0
        if self.time_budget_s <= 0 and cpu_budget <= 0:
            return self.detect_one(sample)
        # One runner per calling thread, so concurrent callers never share one.
        runners: dict[int, _Runner] = self.__dict__.setdefault("_runners", {})
        caller = threading.get_ident()
        runner = runners.get(caller)
        if runner is None:
            runner = runners[caller] = _Runner(self.name)
        outcome = runner.run(self.detect_one, sample, self.time_budget_s, cpu_budget)
        if isinstance(outcome, _Overrun):  # that thread is abandoned, a new one takes over
            del runners[caller]
            spent = "CPU time" if outcome.kind == "cpu" else "wall-clock time"
            return self.error(
                sample,
                TIMEOUT_REASON,
                {
                    "detector": self.name,
                    "budget": outcome.kind,
                    "budget_s": outcome.budget_s,
                    "detail": f"{self.name} used more than {outcome.budget_s:g} s of {spent} "
                    "on this file; abandoned",
                },
            )
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def verdict(
        self,
        sample: Sample,
        label: str,
        positive: bool,
        *,
        score: float | None = None,
        p_value: float | None = None,
        evidence: Mapping[str, JSONValue] | None = None,
    ) -> Verdict:
        """Build a judged verdict for ``sample`` stamped with this detector's identity."""
        return Verdict(
            detector=self.name,
            version=self.version,
            model_checksum=self.model_checksum,
            asset_sha256=sample.sha256,
            label=label,
            positive=positive,
            score=score,
            p_value=p_value,
            evidence=dict(evidence or {}),
        )

    def not_found(
        self,
        sample: Sample,
        *,
        score: float | None = None,
        p_value: float | None = None,
        evidence: Mapping[str, JSONValue] | None = None,
    ) -> Verdict:
        """A negative verdict: the detector looked and found nothing (not "clean")."""
        return self.verdict(
            sample, NOT_FOUND, False, score=score, p_value=p_value, evidence=evidence
        )

    def error(
        self, sample: Sample, reason: str, evidence: Mapping[str, JSONValue] | None = None
    ) -> Verdict:
        """An error verdict: ``sample`` could not be judged, for ``reason``."""
        return Verdict(
            detector=self.name,
            version=self.version,
            model_checksum=self.model_checksum,
            asset_sha256=sample.sha256,
            label=ERROR_LABEL,
            positive=False,
            evidence=dict(evidence or {}),
            error=reason,
        )


def _with_elapsed(verdict: Verdict, elapsed_ms: float) -> Verdict:
    return replace(verdict, elapsed_ms=round(elapsed_ms, 3))


def _budget(options: Mapping[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    return float(value) if value else 0.0


class _Overrun(NamedTuple):
    """A call went past a budget: which one (``"cpu"`` or ``"wall"``) and its seconds."""

    kind: str
    budget_s: float


class _Runner:
    """One daemon thread that runs detector calls handed to it, one at a time."""

    def __init__(self, name: str) -> None:
        self._job: tuple[Any, Sample] | None = None
        self._result: Verdict | BaseException | None = None
        self._ready = threading.Semaphore(0)
        self._done = threading.Event()
        thread = threading.Thread(target=self._loop, name=f"detector-{name}", daemon=True)
        thread.start()
        self._clock: int | None = None
        if CPU_BUDGET_SUPPORTED and thread.ident is not None:
            try:
                self._clock = time.pthread_getcpuclockid(thread.ident)
            except OSError:
                self._clock = None

    def run(
        self, call: Any, sample: Sample, wall_s: float, cpu_s: float
    ) -> Verdict | BaseException | _Overrun:
        """``call(sample)``'s verdict or exception, or the budget it went past (``0``: none).

        The worker sits idle on its semaphore between calls, so its CPU clock read just
        before the hand-over is the call's starting point.
        """
        watch_cpu = cpu_s > 0 and self._clock is not None
        self._done.clear()
        self._job = (call, sample)
        cpu_start = self._cpu_time() if watch_cpu else 0.0
        deadline = time.monotonic() + wall_s if wall_s > 0 else None
        self._ready.release()
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            wait = _POLL_S if watch_cpu else left
            if left is not None and wait is not None:
                wait = min(wait, max(left, 0.0))
            if self._done.wait(wait):
                break
            overrun = None
            if deadline is not None and time.monotonic() >= deadline:
                overrun = _Overrun("wall", wall_s)
            elif watch_cpu and self._cpu_time() - cpu_start >= cpu_s:
                overrun = _Overrun("cpu", cpu_s)
            if overrun is not None and not self._done.is_set():
                return overrun
        result, self._result = self._result, None
        if result is None:
            raise TypeError("detect_one returned no verdict")
        return result

    def _cpu_time(self) -> float:
        """CPU seconds the worker thread has used; 0 if its clock cannot be read."""
        if self._clock is None:
            return 0.0
        try:
            return time.clock_gettime(self._clock)
        except OSError:  # the thread is gone (interpreter shutdown)
            return 0.0

    def _loop(self) -> None:
        while True:
            self._ready.acquire()
            job, self._job = self._job, None
            if job is None:
                continue
            call, sample = job
            try:
                self._result = call(sample)
            except BaseException as exc:  # handed back to the caller, which re-raises it
                self._result = exc
            self._done.set()
