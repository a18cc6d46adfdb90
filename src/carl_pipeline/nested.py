"""Nested settings (mappings, dataclasses, pydantic models, OmegaConf nodes) flattened to dotted
keys, for trackers and loggers that take flat name/value pairs. No Kedro imports, nothing heavy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from typing import Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings, dataclasses and config nodes -> ``{"a.b.c": leaf}``."""
    if hasattr(value, "model_dump"):  # the parsed parameters (pydantic)
        value = value.model_dump()
    elif is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    elif hasattr(value, "_content"):  # an OmegaConf node
        from omegaconf import OmegaConf

        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` laid over it key by key (nested mappings merged, anything else
    replaced); neither input is modified."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
