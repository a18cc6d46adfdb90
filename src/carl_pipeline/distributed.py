"""Several processes under ``torchrun``: who this process is, and sharing results between them.

Kedro-free. One process (no ``WORLD_SIZE``, or 1) is rank 0 of 1 and every helper is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, TypeVar

import torch

T = TypeVar("T")


def world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from what torchrun sets; (0, 1, 0) for one process. The
    process group is started on first use (NCCL with CUDA, else gloo)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0"))


def rank() -> int:
    """This process's rank (0 without torchrun); starts nothing."""
    return int(os.environ.get("RANK", "0"))


def writes() -> bool:
    """Whether this process writes files: under ``torchrun`` only rank 0 does (the catalog's
    saves, a run's folder, checkpoints and logs); the other ranks compute the same results and
    keep them in memory. The one place the rule is written."""
    return rank() == 0


def shard(items: Sequence[T], rank: int, size: int) -> list[T]:
    """The items rank ``rank`` of ``size`` takes: every ``size``-th, from its rank on."""
    return list(items[rank::size])


def all_gather_dict(part: dict[str, Any], size: int) -> dict[str, Any]:
    """Every rank's ``part`` merged, on every rank (``size`` 1: ``part`` itself)."""
    if size == 1:
        return part
    parts: list[dict[str, Any]] = [{} for _ in range(size)]
    torch.distributed.all_gather_object(parts, part)
    merged: dict[str, Any] = {}
    for piece in parts:
        merged.update(piece)
    return merged
