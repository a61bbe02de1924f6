"""Match a LoRA adapter to the base model it targets, by tensor names and shapes.

A LoRA pair for module ``M`` is ``M.lora_A.weight`` (rank x in) and ``M.lora_B.weight``
(out x rank) in PEFT's naming, or ``M.lora_down.weight`` / ``M.lora_up.weight`` in the
diffusers/kohya naming. PEFT prefixes ``base_model.model.``. The adapter fits a base when the
base has ``M.weight`` of shape (out, in, …). Kohya's flattened ``lora_unet_…`` names (dots
turned into underscores) are matched after the same flattening of the base's names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from detectors.model.manifest import Fingerprint

_PAIRS: Final = ((".lora_A.weight", ".lora_B.weight"), (".lora_down.weight", ".lora_up.weight"))
_PREFIXES: Final = ("base_model.model.", "lora_unet_", "lora_te_", "unet.", "text_encoder.")
#: Share of the adapter's modules that must fit the base.
MIN_FIT: Final = 0.9


@dataclass(frozen=True)
class LoraModule:
    """One adapted module: its name in the base and the shapes the pair implies."""

    module: str
    rank: int
    in_features: tuple[int, ...]
    out_features: int


def lora_modules(prints: Sequence[Fingerprint]) -> list[LoraModule]:
    """The adapter's modules (empty when the file is not a LoRA adapter)."""
    by_name = {p.name: p for p in prints}
    found: list[LoraModule] = []
    for p in prints:
        for down, up in _PAIRS:
            if not p.name.endswith(down):
                continue
            module = p.name[: -len(down)]
            partner = by_name.get(module + up)
            if partner is None or len(p.shape) < 2 or len(partner.shape) < 2:
                continue
            found.append(LoraModule(_strip(module), p.shape[0], p.shape[1:], partner.shape[0]))
    return found


def fit(modules: Sequence[LoraModule], name: str, base: Sequence[Fingerprint]) -> dict[str, Any]:
    """How well the adapter's modules fit the registered model ``name``."""
    shapes = {p.name.removesuffix(".weight"): p.shape for p in base if p.name.endswith(".weight")}
    flat = {k.replace(".", "_"): v for k, v in shapes.items()}
    fitted = 0
    for module in modules:
        shape = shapes.get(module.module) or flat.get(module.module.replace(".", "_"))
        if (
            shape is not None
            and len(shape) >= 2
            and shape[0] == module.out_features
            and (tuple(shape[1:]) == module.in_features or shape[1] == module.in_features[0])
        ):
            fitted += 1
    share = fitted / len(modules) if modules else 0.0
    return {
        "reference": name,
        "relation": "lora-adapter" if share >= MIN_FIT else "unrelated",
        "modules": len(modules),
        "modules_fitted": fitted,
        "fit": round(share, 4),
        "rank": max((m.rank for m in modules), default=0),
    }


def _strip(module: str) -> str:
    for prefix in _PREFIXES:
        if module.startswith(prefix):
            return module[len(prefix) :]
    return module
