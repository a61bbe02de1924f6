"""Write an evaluation report: ``report.json``, ``results.csv``, ``outcomes.csv``,
``report.md`` and PNG plots (detection rate against strength, per attack family, one panel
per detector). The Markdown is what docs/robustness.md and the dashboard show.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from detectors.evaluation.outcomes import Outcome

REPORT_JSON = "report.json"
PLOT = "detection_vs_strength.png"
CSV_COLUMNS = (
    "detector",
    "attack",
    "family",
    "strength",
    "kind",
    "n_pos",
    "n_neg",
    "errors",
    "detect_rate",
    "fpr_own",
    "tpr@0.01",
    "tpr@0.001",
    "auroc",
    "bit_accuracy",
    "recall@1",
    "muap",
    "psnr",
    "ssim",
)
#: What each detector's findings mean for the registry (the "Findings" section).
FINDING_RESPONSES = {
    "metadata": "Nothing in the verdict tells forged chunks from real ones: generator metadata "
    "is unsigned text anyone can write, so a metadata hit is a claim found in the file, not "
    "proof of generation. The registry does nothing more about it today (a gap: the verdict "
    "could say `authenticated: false` explicitly).",
    "c2pa": "A transplanted manifest no longer matches the pixels it binds: the verdict's "
    "`validation_state` is `Invalid` with a hash-mismatch status code; triage must "
    "treat Invalid manifests as unproven.",
    "watermark": "Nothing in the detector tells a spoofed public payload from a real one: the "
    "SDXL/SD payloads are public and the encoder is open source. Only registered "
    "secret marks (`provreg watermark add`) resist this.",
}


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if not math.isinf(value) else "∞"
    return str(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def write(
    out: Path,
    *,
    rows: Sequence[Mapping[str, Any]],
    meta: Mapping[str, Any],
    outcomes: Sequence[Outcome],
) -> Path:
    """Write every file of the report under ``out``; returns the Markdown path."""
    out.mkdir(parents=True, exist_ok=True)
    document = {"meta": dict(meta), "headline": headline(rows), "rows": list(rows), "plot": PLOT}
    (out / REPORT_JSON).write_text(json.dumps(_json_safe(document), indent=1))
    with (out / "results.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    with (out / "outcomes.csv").open("w", newline="") as handle:
        plain = csv.writer(handle)
        plain.writerow(
            [
                "detector",
                "item",
                "attack",
                "role",
                "fired",
                "score",
                "label",
                "error",
                "bit_accuracy",
                "top_reference",
            ]
        )
        for o in outcomes:
            j = o.to_json()
            plain.writerow(
                [
                    j[k]
                    for k in (
                        "detector",
                        "item",
                        "attack",
                        "role",
                        "fired",
                        "score",
                        "label",
                        "error",
                        "bit_accuracy",
                        "top_reference",
                    )
                ]
            )
    plot(out / PLOT, rows)
    path = out / "report.md"
    path.write_text(markdown(rows, meta))
    return path


def rebuild(out: Path) -> Path:
    """Re-render ``report.md`` and the plot from ``out/report.json`` (after a change to the
    rendering, without re-running the detectors); returns the Markdown path."""
    document = json.loads((out / REPORT_JSON).read_text())
    rows, meta = document["rows"], document["meta"]
    plot(out / PLOT, rows)
    path = out / "report.md"
    path.write_text(markdown(rows, meta))
    return path


def headline(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per detector: detection on originals, worst removal attack, forgeries that fired."""
    out = []
    for detector in sorted({r["detector"] for r in rows}):
        own = [r for r in rows if r["detector"] == detector]
        original = next((r for r in own if r["attack"] == "original"), None)
        removal = [
            r
            for r in own
            if r["kind"] == "removal"
            and r["attack"] != "original"
            and r["n_pos"]
            and r["detect_rate"] is not None
            and not math.isnan(r["detect_rate"])
        ]
        kept = [r for r in removal if r["detect_rate"] >= 0.9]
        worst = min(removal, key=lambda r: r["detect_rate"]) if removal else None
        forged = [r["family"] for r in own if r["kind"] == "forgery" and (r["fpr_own"] or 0) > 0]
        out.append(
            {
                "detector": detector,
                "positives": original["n_pos"] if original else 0,
                "negatives": original["n_neg"] if original else 0,
                "original_detect_rate": original["detect_rate"] if original else None,
                "original_fpr": original["fpr_own"] if original else None,
                "attacks_kept_90pct": f"{len(kept)}/{len(removal)}",
                "worst_attack": worst["attack"] if worst else None,
                "worst_detect_rate": worst["detect_rate"] if worst else None,
                "forgeries_that_fire": ", ".join(forged) or "none",
            }
        )
    return out


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return lines


def markdown(rows: Sequence[Mapping[str, Any]], meta: Mapping[str, Any]) -> str:
    """The report as Markdown (headline, findings, per-detector tables, reproduction)."""
    lines = [
        "# Robustness report",
        "",
        f"Command: `{meta.get('command')}`",
        "",
        f"Seed {meta.get('seed')}, suite `{meta.get('suite')}`, "
        f"{meta.get('elapsed_s', 0):.0f} s wall on {meta.get('machine')}.",
        "",
        "Corpus: " + ", ".join(f"{k} {v}" for k, v in meta.get("corpus", {}).items()),
        "",
    ]
    unreadable = meta.get("unreadable", {})
    if unreadable:
        lines += [
            f"Unreadable corpus files ({len(unreadable)}), counted as misses in every "
            "denominator: " + ", ".join(f"`{k}` ({v})" for k, v in unreadable.items()),
            "",
        ]
    lines += ["## Headline", ""]
    lines += _table(
        headline(rows),
        [
            "detector",
            "positives",
            "negatives",
            "original_detect_rate",
            "original_fpr",
            "attacks_kept_90pct",
            "worst_attack",
            "worst_detect_rate",
            "forgeries_that_fire",
        ],
    )
    lines += [
        "",
        f"![detection rate vs strength]({PLOT})",
        "",
        "## Findings",
        "",
        "Forgery attacks run on the negatives (real photos never generated); a detector "
        "that fires on them is spoofable.",
        "",
    ]
    quiet = sorted(
        {
            f"{r['detector']} × {r['family']}"
            for r in rows
            if r["kind"] == "forgery" and r["n_neg"] and not r["fpr_own"] > 0
        }
    )
    for r in rows:
        if r["kind"] == "forgery" and r["n_neg"] and r["fpr_own"] > 0:
            lines.append(
                f"- **{r['detector']} × {r['family']}**: fired on "
                f"{_fmt(r['fpr_own'])} of {r['n_neg']} forged negatives "
                f"(labels {r.get('forged_labels') or {}}). "
                + FINDING_RESPONSES.get(r["detector"], "")
            )
    if quiet:
        lines.append("- Not spoofed (fired on no forged negative): " + ", ".join(quiet) + ".")
    lines += [
        "",
        "## Per detector",
        "",
        "detect_rate / fpr_own: the detector's own decision on positives / negatives "
        "under the attack. tpr@α: TPR at FPR α with the threshold set on the "
        "negatives under the same attack (ties do not fire; `*` = α below 1/n_neg, "
        "threshold = highest negative score). CI: 95% bootstrap.",
        "",
    ]
    for detector in sorted({r["detector"] for r in rows}):
        own = [dict(r) for r in rows if r["detector"] == detector]
        for r in own:
            ci = r.get("detect_rate_ci")
            r["detect (CI)"] = (
                f"{_fmt(r['detect_rate'])} [{_fmt(ci[0])}, {_fmt(ci[1])}]"
                if ci
                else _fmt(r["detect_rate"])
            )
            for key in ("tpr@0.01", "tpr@0.001"):
                r[key] = _fmt(r.get(key)) + ("" if r.get(f"{key}_resolvable") else "*")
        cols = [
            "attack",
            "n_pos",
            "n_neg",
            "errors",
            "detect (CI)",
            "fpr_own",
            "tpr@0.01",
            "tpr@0.001",
            "auroc",
            "psnr",
            "ssim",
        ]
        if any(r.get("bit_accuracy") is not None for r in own):
            cols.append("bit_accuracy")
        if detector == "copy":
            cols += ["recall@1", "muap"]
        lines += [f"### {detector}", "", *_table(own, cols), ""]
    lines += ["## Detectors and attacks", ""]
    lines += [
        f"- `{d['name']}` {d['version']}, model checksum {d['model_checksum']}"
        for d in meta.get("detectors", [])
    ]
    lines += ["", "Attack parameters are in `report.json` (`meta.attacks`)."]
    return "\n".join(lines) + "\n"


def plot(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Detection rate against strength, one line per removal family, one panel per detector."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    detectors = sorted({r["detector"] for r in rows if r["n_pos"]})
    if not detectors:
        return
    cols = min(3, len(detectors))
    nrows = math.ceil(len(detectors) / cols)
    families = sorted(
        {r["family"] for r in rows if r["kind"] == "removal" and r["family"] != "original"}
    )
    cmap = plt.get_cmap("tab10")
    fig, axes = plt.subplots(nrows, cols, figsize=(5.2 * cols, 3.8 * nrows), squeeze=False)
    for ax, detector in zip(axes.flat, detectors, strict=False):
        own = [r for r in rows if r["detector"] == detector and r["kind"] == "removal"]
        base = next((r["detect_rate"] for r in own if r["attack"] == "original"), math.nan)
        for family in families:
            n = families.index(family)
            pts = sorted((r["strength"], r["detect_rate"]) for r in own if r["family"] == family)
            if not pts:
                continue
            # A small vertical offset per family keeps coinciding lines visible.
            offset = (n - len(families) / 2) * 0.004
            # A family measured at one strength is a marker, not a line from the origin.
            single = len(pts) == 1
            xs = ([] if single else [0.0]) + [p[0] for p in pts]
            ys = ([] if single else [base + offset]) + [p[1] + offset for p in pts]
            ax.plot(
                xs,
                ys,
                marker="D" if single else "o",
                ms=5 if single else 3,
                lw=1.2,
                color=cmap(n % 10),
                linestyle=("-", "--", ":")[n // 10 % 3],
                label=family,
            )
        ax.set_title(detector)
        ax.set_xlabel("attack strength (0 = original)")
        ax.set_ylabel("detection rate")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(detectors) :]:
        ax.axis("off")
    handles, labels = {}, {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles[lab], labels[lab] = h, lab
    fig.legend(
        list(handles.values()),
        list(labels),
        loc="lower center",
        ncol=min(6, len(labels)) or 1,
        fontsize=7,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.04 + 0.025 * math.ceil(len(labels) / 6), 1, 1))
    fig.savefig(path, dpi=90)
    plt.close(fig)
