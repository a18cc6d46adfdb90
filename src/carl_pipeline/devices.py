"""Which torch device a setting names: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")


def resolve_device(name: str = "auto") -> torch.device:
    """The device ``name`` means on this machine.

    ``auto`` is CUDA when present (under ``torchrun``, the process's ``LOCAL_RANK`` GPU), else the
    CPU. ``cuda`` is the current CUDA device.

    Raises:
        ValueError: an unknown name, or a device this machine does not have (the message says
            what it has).
    """
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ValueError("device 'mps' is not there: this machine has no Apple GPU (use auto or cpu)")
        return torch.device("mps")
    if name == "cuda" or name.startswith("cuda:"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = torch.cuda.current_device() if name == "cuda" and count else None
        if name.startswith("cuda:"):
            if not name[5:].isdigit():
                raise ValueError(f"device {name!r}: expected cuda:N with N a GPU number")
            index = int(name[5:])
        if count == 0:
            raise ValueError(f"device {name!r} is not there: this machine has no CUDA GPU (use auto or cpu)")
        if index >= count:
            raise ValueError(f"device {name!r} is not there: this machine has {count} CUDA GPU(s), cuda:0..cuda:{count - 1}")
        return torch.device("cuda", index)
    raise ValueError(f"device must be one of {list(DEVICE_CHOICES)}, got {name!r}")


def cpu_has_native_bf16() -> bool:
    """This CPU computes in bfloat16 natively (AVX-512 BF16 or AMX on x86, as Linux lists its
    flags): only then does CPU bf16 autocast pay; elsewhere PyTorch emulates it, slower than
    float32."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            flags = next((line for line in info if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags

