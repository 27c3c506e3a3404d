"""JSON helpers: exact float round trips, non-finite values as strings, tensors as nested lists."""
from __future__ import annotations

import math

import torch

__all__ = ["fmt_value", "json_float", "from_json", "jsonable"]


def fmt_value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def json_float(v):
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return v
    v = float(v)
    return v if math.isfinite(v) else ("inf" if v > 0 else ("-inf" if v < 0 else "nan"))


def from_json(v):
    """Inverse of json_float / jsonable: "nan", "inf", "-inf" back to floats, recursively in dicts/lists."""
    if isinstance(v, str):
        return float(v) if v in ("nan", "inf", "-inf") else v
    if isinstance(v, dict):
        return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def jsonable(x):
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, float):
        return json_float(x)
    return x

