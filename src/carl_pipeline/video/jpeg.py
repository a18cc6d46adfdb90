"""Batched JPEG decoding: TorchCodec where it is installed and works, torchvision otherwise.

torchvision 0.29 deprecates its image codecs in favour of TorchCodec (0.16+: ``decode_jpeg`` on
the CPU and on CUDA with nvJPEG, the same API). TorchCodec is tried first; if it is missing, does
not load (it is built against one torch release) or fails on a batch, torchvision's
``decode_jpeg`` decodes it instead, and its deprecation warning is left for the user to see.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

logger = logging.getLogger(__name__)

#: ``backend``: what decoded the last batch ("torchcodec" or "torchvision"; for tests and logs);
#: ``torchcodec_failed``: TorchCodec could not be imported, so it is not tried again.
state: dict = {"backend": None, "torchcodec_failed": False}


def _torchcodec_decode():
    if state["torchcodec_failed"]:
        return None
    try:
        from torchcodec.decoders import decode_jpeg
    except Exception as error:  # noqa: BLE001 - ImportError, or a shared library that does not load
        state["torchcodec_failed"] = True
        logger.info("TorchCodec unavailable (%s: %s); decoding JPEGs with torchvision", type(error).__name__, error)
        return None
    return decode_jpeg


def decode_jpegs(encoded: Sequence[torch.Tensor], device: str | torch.device = "cpu") -> list[torch.Tensor]:
    """JPEG bytes (1-D uint8 tensors) -> RGB frames ``(3, H, W)`` uint8 on ``device``, in one
    batched call (nvJPEG on CUDA)."""
    encoded = list(encoded)
    decode = _torchcodec_decode()
    if decode is not None:
        try:
            frames = decode(encoded, mode="RGB", device=device)
            state["backend"] = "torchcodec"
            return list(frames)
        except Exception as error:  # noqa: BLE001 - e.g. a CUDA build of TorchCodec without nvJPEG
            logger.warning("TorchCodec could not decode this batch on %s (%s); using torchvision", device, error)
    from torchvision.io import ImageReadMode, decode_jpeg

    state["backend"] = "torchvision"
    return list(decode_jpeg(encoded, mode=ImageReadMode.RGB, device=device))
