"""The raw-pixel reference: each frame as a small grey image, scored by the same protocol as an
encoder, so that a score can be read against what the frames alone give.

A frame is framed as the encoder sees it (``eval_transform`` at the model's input size), turned
grey, shrunk to ``side`` x ``side`` pixels (antialiased), flattened, centred on its own mean and
scaled to unit length (as the encoders' L2-normalised embeddings are, so that FineGym's probe,
tuned for unit vectors, runs unchanged on it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from tqdm.auto import tqdm

from carl_pipeline.augment import eval_transform
from carl_pipeline.video import FramePack, FrameStore


@torch.inference_mode()
def pixel_features(pack: FramePack, image_size: int, framing: str, side: int = 32, chunk: int = 256) -> np.ndarray:
    """``(num_frames, side * side)`` float32: every frame of ``pack`` as the reference's vector."""
    rows = []
    for start in range(0, len(pack), chunk):
        frames = pack.read(np.arange(start, min(start + chunk, len(pack))))  # (t, 3, H, W) uint8
        grey = eval_transform(frames, image_size, framing).mean(dim=1, keepdim=True)  # (t, 1, S, S)
        small = TF.resize(grey, [side, side], antialias=True).flatten(1)  # (t, side * side)
        small = small - small.mean(dim=1, keepdim=True)
        rows.append(torch.nn.functional.normalize(small, dim=1))
    return torch.cat(rows).numpy().astype(np.float32)


def pixel_embeddings(store: FrameStore, video_ids: Sequence[str], image_size: int, framing: str, side: int = 32,
                     progress: bool = True) -> dict[str, np.ndarray]:
    """``{video_id: (num_frames, side * side)}`` for every listed video (``pixel_features``)."""
    return {video_id: pixel_features(store.open(video_id), image_size, framing, side)
            for video_id in tqdm(video_ids, desc="raw-pixel reference", unit="video", disable=not progress)}
