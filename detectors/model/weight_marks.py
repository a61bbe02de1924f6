"""Owners' weight watermarks: Uchida projections and WaterMAS-style secret positions.

- **Uchida** (Uchida et al., ICMR 2017): the key names a layer, a seed and the bits. The
  layer's weights are averaged over the output dimension (``w``, length = fan-in x kernel),
  a projection matrix ``X`` (bits x len(w), standard normal) is drawn from the seed, and bit
  ``i`` reads ``X[i] @ w > 0``. Averaging over outputs makes the read-out blind to output
  neurons being permuted.
- **WaterMAS** (De Sousa Trias et al., ICPR 2024), simplified: the key is a list of secret
  ``(layer, flat index)`` positions and the bits; bit ``i`` reads the sign of the weight
  at position ``i``. (WaterMAS substitutes the marked weights and trains so that the loss is
  sharp around them; the read-out is the same.)

Verification counts matching bits; the p-value is the chance of at least that many matches
from fair coin flips (exact binomial tail), Bonferroni-corrected by the number of keys tried.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from detectors.model.tensors import Tensor

METHODS: Final = ("uchida", "watermas")
MAX_BITS: Final = 1024


class WeightKeyError(ValueError):
    """A weight-watermark key that cannot be used; the message never contains its bits."""


@dataclass(frozen=True)
class WeightKey:
    """A registered owner's key. ``bits`` and ``seed``/``positions`` are the secret."""

    name: str
    id: str
    method: str
    bits: tuple[int, ...]
    layer: str = ""
    seed: int = 0
    positions: tuple[tuple[str, int], ...] = ()


def parse_key(obj: Mapping[str, Any]) -> WeightKey:
    """A :class:`WeightKey` from its JSON form; validated, bits never echoed."""
    method = obj.get("method")
    if method not in METHODS:
        raise WeightKeyError(f"method must be one of {', '.join(METHODS)}")
    bits = _bits(obj.get("bits"))
    name, key_id = str(obj.get("name", "")), str(obj.get("id", ""))
    if method == "uchida":
        layer, seed = obj.get("layer"), obj.get("seed")
        if not isinstance(layer, str) or not layer:
            raise WeightKeyError("an uchida key names its layer ('layer')")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise WeightKeyError("an uchida key holds a non-negative integer 'seed'")
        return WeightKey(name, key_id, method, bits, layer=layer, seed=seed)
    positions = obj.get("positions")
    if not isinstance(positions, list) or len(positions) != len(bits):
        raise WeightKeyError("a watermas key holds one [layer, index] position per bit")
    parsed: list[tuple[str, int]] = []
    for item in positions:
        if not (
            isinstance(item, list | tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and item[1] >= 0
        ):
            raise WeightKeyError("each watermas position is [layer name, flat index >= 0]")
        parsed.append((item[0], item[1]))
    if len(set(parsed)) != len(parsed):
        raise WeightKeyError("watermas positions must be distinct")
    return WeightKey(name, key_id, method, bits, positions=tuple(parsed))


def key_json(key: WeightKey) -> dict[str, Any]:
    """The JSON form :func:`parse_key` reads (secret: holds the bits)."""
    out: dict[str, Any] = {
        "name": key.name,
        "id": key.id,
        "method": key.method,
        "bits": "".join(map(str, key.bits)),
    }
    if key.method == "uchida":
        out |= {"layer": key.layer, "seed": key.seed}
    else:
        out["positions"] = [list(p) for p in key.positions]
    return out


def layers_of(key: WeightKey) -> list[str]:
    """The layer names a key reads (shown in listings; names are not secret)."""
    if key.method == "uchida":
        return [key.layer]
    return sorted({layer for layer, _ in key.positions})


def uchida_vector(weights: np.ndarray) -> np.ndarray:
    """The vector Uchida projects: the weights averaged over the output dimension."""
    if weights.ndim < 2:
        return weights.reshape(-1).astype(np.float64)
    mean: np.ndarray = weights.reshape(weights.shape[0], -1).astype(np.float64).mean(axis=0)
    return mean


def uchida_matrix(seed: int, bits: int, length: int) -> np.ndarray:
    """The projection matrix an Uchida key's seed stands for."""
    matrix: np.ndarray = np.random.default_rng(seed).standard_normal((bits, length))
    return matrix


def read_bits(key: WeightKey, tensors: Mapping[str, Tensor]) -> tuple[int, ...] | None:
    """The bits the key's read-out gives on ``tensors``; ``None`` when a layer is absent."""
    if key.method == "uchida":
        tensor = tensors.get(key.layer)
        values = None if tensor is None else tensor.floats()
        if values is None:
            return None
        w = uchida_vector(values)
        projected = uchida_matrix(key.seed, len(key.bits), w.size) @ np.nan_to_num(w)
        return tuple(int(v > 0) for v in projected)
    out: list[int] = []
    cache: dict[str, np.ndarray] = {}
    for layer, index in key.positions:
        if layer not in cache:
            tensor = tensors.get(layer)
            values = None if tensor is None else tensor.floats()
            if values is None:
                return None
            cache[layer] = values.reshape(-1)
        flat = cache[layer]
        if index >= flat.size:
            return None
        out.append(int(flat[index] > 0))
    return tuple(out)


def binomial_tail(k: int, n: int) -> float:
    """P(Bin(n, 1/2) >= k) (the image watermark detector's exact tail)."""
    from detectors.watermark.stats import binomial_tail as tail

    return tail(k, n)


def verify(keys: Sequence[WeightKey], tensors: Sequence[Tensor]) -> list[dict[str, Any]]:
    """One result per key: layer found, bits, matched, BER, raw and corrected p-values.

    Results name the key and its id (an HMAC), never the key's bits, seed or positions.
    """
    by_name = {t.name: t for t in tensors}
    results = []
    for key in keys:
        read = read_bits(key, by_name)
        n = len(key.bits)
        base: dict[str, Any] = {"key": key.name, "key_id": key.id, "method": key.method, "bits": n}
        if read is None:
            results.append(
                base
                | {
                    "layer_found": False,
                    "matched": None,
                    "ber": None,
                    "p_value": None,
                    "p_value_corrected": None,
                }
            )
            continue
        matched = sum(a == b for a, b in zip(read, key.bits, strict=True))
        p = binomial_tail(matched, n)
        results.append(
            base
            | {
                "layer_found": True,
                "matched": matched,
                "ber": round(1 - matched / n, 4),
                "p_value": p,
                "p_value_corrected": min(1.0, p * max(1, len(keys))),
            }
        )
    return results


def _bits(value: object) -> tuple[int, ...]:
    if isinstance(value, str):
        text = value.strip().removeprefix("0b").replace("_", "")
        if not text or set(text) - {"0", "1"}:
            raise WeightKeyError("bits must be a string of 0 and 1 (0b optional)")
        bits = tuple(int(c) for c in text)
    elif isinstance(value, list) and value and all(v in (0, 1) for v in value):
        bits = tuple(int(v) for v in value)
    else:
        raise WeightKeyError("bits must be a string of 0 and 1 or a list of 0/1")
    if not 16 <= len(bits) <= MAX_BITS:
        raise WeightKeyError(f"a key holds 16 to {MAX_BITS} bits, got {len(bits)}")
    return bits
