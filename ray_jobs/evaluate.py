"""``provreg eval`` on Ray: attack a corpus and run detector actor pools over every copy.

Attack tasks (one per attack × batch of items) decode each corpus file, apply the attack,
measure PSNR/SSIM against the original, take the result through the hardened intake and
return two objects: the packed samples (handed straight to every detector pool through the
object store, never through the driver) and a small list of per-item facts. Detector pools
are the same actors ingest and re-scan use (:class:`ray_jobs.actors.DetectorPool`). A corpus
file that cannot be read, decoded or attacked becomes an error outcome for every detector
and attack it belongs to, so it stays in the denominators and the report counts it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import ray
from tqdm import tqdm

from detectors.base import Detector, Sample, Verdict
from detectors.evaluation import outcomes, suites
from detectors.evaluation.attacks import ORIGINAL, Attack, AttackContext
from detectors.evaluation.corpus import Corpus, Item
from detectors.evaluation.imaging import UnreadableImage, decode_rgb, to_array
from detectors.evaluation.metrics import image_quality
from detectors.evaluation.outcomes import Outcome
from ray_jobs.actors import DetectorPool, PackedSamples, cpu_scale_for
from ray_jobs.runtime import cluster_cpus, cluster_gpus
from registry.intake.pipeline import IntakeLimits, intake_bytes

BATCH = 12
WINDOW = 6  # attack batches in flight


@dataclass
class EvalRun:
    """Everything a report needs from one run."""

    attacks: list[Attack]
    outcomes: list[Outcome]
    quality: dict[str, list[dict[str, float | None]]]
    unreadable: dict[str, str]
    detectors: list[dict[str, Any]]
    corpus_counts: dict[str, Any] = field(default_factory=dict)


@ray.remote(num_returns=2)
def _attack_batch(
    attack: Attack, batch: list[tuple[str, bytes, bytes | None]], shared: dict[str, Any], seed: int
) -> tuple[PackedSamples, list[Any]]:
    samples: list[Sample] = []
    facts: list[tuple[str, str | None, dict[str, float | None] | None, int | None]] = []
    limits = IntakeLimits()
    for item_id, data, donor in batch:
        context = AttackContext(seed, item_id, donor, shared)
        try:
            attacked = attack.apply(data, context)
            quality = image_quality(to_array(decode_rgb(data)), to_array(decode_rgb(attacked)))
        except Exception as exc:  # hostile input or an attack that cannot apply: counted
            facts.append(
                (item_id, f"attack-failed: {type(exc).__name__}: {str(exc)[:200]}", None, None)
            )
            continue
        result = intake_bytes(attacked, limits, path=item_id)
        if result.sample is None:
            facts.append((item_id, f"intake: {result.error}", quality, None))
            continue
        facts.append((item_id, None, quality, len(samples)))
        samples.append(result.sample)
    return PackedSamples.pack(samples), facts


def _targets(attack: Attack, items: Sequence[Item]) -> list[Item]:
    if attack.kind == "forgery":
        return [item for item in items if not item.expect]
    return list(items)


def _donor(items: Sequence[Item], readable: dict[str, bytes], index: int) -> bytes | None:
    negatives = [i.id for i in items if not i.expect and i.id in readable]
    if len(negatives) < 2:
        return None
    return readable[negatives[(index + 1) % len(negatives)]]


def run_eval(
    corpus: Corpus,
    detectors: Sequence[Detector],
    attacks: Sequence[Attack],
    *,
    seed: int,
    quick: bool,
    vae_dir: Path | None = None,
    progress: bool = True,
) -> EvalRun:
    """Run ``detectors`` over the corpus originals and every attacked copy (Ray initialised)."""
    readable: dict[str, bytes] = {}
    unreadable: dict[str, str] = {}
    for item in corpus.items:
        try:
            data = corpus.read(item)
            decode_rgb(data)
            readable[item.id] = data
        except (OSError, UnreadableImage) as exc:
            unreadable[item.id] = f"{type(exc).__name__}: {str(exc)[:200]}"
    marked = [
        to_array(decode_rgb(readable[i.id]))
        for i in corpus.items
        if "watermark" in i.expect and i.id in readable
    ]
    clean = [
        to_array(decode_rgb(readable[i.id]))
        for i in corpus.items
        if not i.expect and i.id in readable
    ]
    all_attacks = [ORIGINAL, *attacks]
    shared = suites.shared_state(
        all_attacks, marked=marked, clean=clean, seed=seed, quick=quick, vae_dir=vae_dir
    )
    shared_ref = ray.put(shared)
    by_id = {item.id: item for item in corpus.items}
    scale = cpu_scale_for(detectors, cpus=cluster_cpus())
    gpus = cluster_gpus() > 0
    pools = [DetectorPool(d, 1, gpus_available=gpus, cpu_scale=scale) for d in detectors]
    run = EvalRun(all_attacks, [], {}, unreadable, [_identity(d) for d in detectors])
    jobs = []
    for attack in all_attacks:
        targets = _targets(attack, corpus.items)
        for item in targets:
            if item.id in unreadable:
                run.outcomes += [
                    outcomes.unreadable(
                        d.name, item, attack.id, role, "unreadable: " + unreadable[item.id]
                    )
                    for d in detectors
                    if (role := item.role(d.name))
                ]
        ok = [i for i in targets if i.id in readable]
        for start in range(0, len(ok), BATCH):
            chunk = [
                (i.id, readable[i.id], _donor(corpus.items, readable, n + start))
                for n, i in enumerate(ok[start : start + BATCH])
            ]
            jobs.append((attack, chunk))
    bar = tqdm(
        total=len(jobs) * len(pools),
        desc="eval",
        unit="batch",
        file=sys.stderr,
        disable=not progress,
    )
    try:
        pending: list[tuple[Attack, Any, list[tuple[Any, int, DetectorPool]]]] = []
        queue = list(jobs)
        while queue or pending:
            while queue and len(pending) < WINDOW:
                attack, chunk = queue.pop(0)
                refs: Any = _attack_batch.remote(attack, chunk, shared_ref, seed)
                packed, facts = refs
                pending.append((attack, facts, [(*p.submit(packed), p) for p in pools]))
            attack, facts_ref, calls = pending.pop(0)
            facts = ray.get(facts_ref)
            for ref, index, pool in calls:
                verdicts: list[Verdict] = ray.get(ref)
                pool.release(index)
                _collect(run, attack, facts, verdicts, pool.name, by_id)
                bar.update(1)
    finally:
        bar.close()
        for pool in pools:
            pool.shutdown()
    return run


def _collect(
    run: EvalRun,
    attack: Attack,
    facts: list[Any],
    verdicts: list[Verdict],
    detector: str,
    by_id: dict[str, Item],
) -> None:
    first = detector == run.detectors[0]["name"]
    for item_id, error, quality, index in facts:
        item = by_id[item_id]
        if first and quality is not None:
            run.quality.setdefault(attack.id, []).append(quality)
        role = item.role(detector)
        if role is None:
            continue
        if index is None:
            run.outcomes.append(outcomes.unreadable(detector, item, attack.id, role, error))
        else:
            run.outcomes.append(outcomes.outcome(verdicts[index], item, attack.id, role))


def _identity(detector: Detector) -> dict[str, Any]:
    try:
        checksum = detector.model_checksum
    except Exception as exc:  # a plugin whose checksum needs its weights: say so
        checksum = f"unavailable ({type(exc).__name__})"
    return {"name": detector.name, "version": detector.version, "model_checksum": checksum}


def numpy_free(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python numbers (for JSON)."""
    if isinstance(value, np.generic):
        return value.item()
    return value
