"""The base of learned detectors: weights from options, batched judging, honest unavailability.

A learned detector receives its weights as ``options["model"]`` (a resolved model-store entry,
:class:`detectors.learned.spec.ModelSpec`). With none, or with weights that fail to load (wrong
hash, truncated file, not a state dict, missing keys, wrong graph input), it still loads — a
bad weight file must not take an ingest down — and answers every sample with an error verdict
(``model-unavailable`` or ``model-load-failed``, the typed error named in evidence): it never
says "not found" without having looked.

Torch is imported in :meth:`load`, never at import time, so discovering detectors stays cheap.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar, Generic, TypeVar

from detectors.base import Detector, JSONValue, Resources, Sample, Verdict
from detectors.learned.errors import LearnedModelError, ModelUnavailableError

P = TypeVar("P")

#: Error reasons of learned detectors (besides the base class's).
MODEL_UNAVAILABLE = "model-unavailable"
MODEL_LOAD_FAILED = "model-load-failed"
TOO_SMALL = "too-small"


class LearnedDetector(Detector, Generic[P]):
    """A detector whose verdicts come from a model in the store.

    Subclasses set :attr:`model_kind`, implement :meth:`load_model`, :meth:`prepare` (one
    sample to model input; raise to refuse it) and :meth:`judge` (a batch of prepared inputs
    to verdicts).
    """

    #: The store kind whose newest entry the registry configures by default.
    model_kind: ClassVar[str]
    #: Half a GPU per actor when the cluster has GPUs, so both learned detectors share one.
    resources: ClassVar[Resources] = Resources(num_cpus=1.0, num_gpus=0.5, memory_mb=2048)
    required_option: ClassVar[str | None] = "model"  # no weights in the store: nothing to run

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.spec: Any = None
        self.problem: tuple[str, dict[str, JSONValue]] | None = None

    @property
    def model_checksum(self) -> str | None:
        # Known before load(): a re-scan names its identity in the driver, where the
        # detector is never loaded (its actors load it).
        if self.spec is not None:
            return self.spec.checksum()  # type: ignore[no-any-return]
        model = self.options.get("model")
        if not model:
            return None
        from detectors.learned.errors import LearnedModelError
        from detectors.learned.spec import ModelSpec

        try:
            return ModelSpec.from_options(model).checksum()
        except LearnedModelError:
            return None

    def load(self) -> None:
        """Resolve and load the weights; a failure is remembered, not raised."""
        from detectors.learned.spec import ModelSpec

        self._loaded = True
        model = self.options.get("model")
        if not model:
            self.problem = (
                MODEL_UNAVAILABLE,
                {
                    "message": f"no {self.model_kind} model is configured: add one with "
                    f"`provreg models add NAME FILE --kind {self.model_kind}` or train "
                    f"one with `provreg train {self.model_kind}`",
                    "exception": ModelUnavailableError.__name__,
                },
            )
            return
        try:
            self.spec = ModelSpec.from_options(model)
            self.load_model(self.spec)
        except LearnedModelError as exc:
            self.problem = (
                MODEL_LOAD_FAILED,
                {
                    "exception": type(exc).__name__,
                    "message": str(exc)[:1000],
                    "model": str(model.get("name")) if isinstance(model, dict) else None,
                },
            )

    @abstractmethod
    def load_model(self, spec: Any) -> None:
        """Load the weights of ``spec`` (raise a LearnedModelError if they cannot be)."""

    @abstractmethod
    def prepare(self, sample: Sample) -> P:
        """Model input for one sample; raise to refuse it (the reason becomes its error)."""

    @abstractmethod
    def judge(self, samples: Sequence[Sample], prepared: Sequence[P]) -> list[Verdict]:
        """One verdict per prepared sample, in order."""

    def detect_one(self, sample: Sample) -> Verdict:
        return self.detect_batch([sample])[0]

    def detect_batch(self, samples: Sequence[Sample]) -> list[Verdict]:
        """Prepare every sample, judge the prepared ones in one batch; never raises."""
        if not self._loaded:
            self.load()
        started = time.perf_counter()
        out: list[Verdict | None] = [None] * len(samples)
        todo: list[int] = []
        prepared: list[P] = []
        for index, sample in enumerate(samples):
            if not self.accepts(sample.media_type):
                out[index] = self.error(
                    sample, "unsupported-format", {"media_type": sample.media_type}
                )
            elif self.problem is not None:
                out[index] = self.error(sample, self.problem[0], self.problem[1])
            elif sample.image is None:
                out[index] = self.error(sample, "not-an-image")
            else:
                try:
                    prepared.append(self.prepare(sample))
                    todo.append(index)
                except Exception as exc:
                    out[index] = self.error(sample, _reason(exc), _describe(exc))
        if todo:
            try:
                judged = self.judge([samples[i] for i in todo], prepared)
            except Exception as exc:
                judged = [
                    self.error(samples[i], "detector-exception", _describe(exc)) for i in todo
                ]
            for index, verdict in zip(todo, judged, strict=True):
                out[index] = verdict
        share = (time.perf_counter() - started) * 1000.0 / max(1, len(samples))
        return [replace(v, elapsed_ms=round(share, 3)) for v in out if v is not None]


def _reason(exc: Exception) -> str:
    from detectors.learned.preprocess import TooSmallError

    return TOO_SMALL if isinstance(exc, TooSmallError) else "detector-exception"


def _describe(exc: Exception) -> dict[str, JSONValue]:
    return {"exception": type(exc).__name__, "message": str(exc)[:500]}
