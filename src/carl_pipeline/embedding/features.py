"""Per-frame features of a frozen backbone, computed once and kept: what CARL's temporal head
trains on when the backbone does not change (``optim.feature_cache``; MV-Former's frozen ViT).

With every backbone stage frozen, a frame's feature is a fixed function of the frame, so running
the backbone on every step repeats the same work. The cache holds each frame's feature of one
view per frame, the *neutral* view (``augment.neutral_view``: the whole frame resized to the
training size, no flip, no colour change): spatial and colour augmentation are given up, since
each extra augmentation draw would cost one more pass over every frame and store (our choice:
none; a run that wants augmentation keeps ``feature_cache: false``). Training on the cache then
gives the embeddings a run through the frozen backbone gives with augmentation off
(tests/embedding/test_features.py).

Layout: ``<root>/<key>/<video_id>-<pack digest>.npy``, ``(num_frames, C)`` float32 each, written
atomically. ``key`` hashes what the features depend on: the backbone's name and frozen weights,
the input size and normalisation; the pack digest is the frame pack's checksum of every frame, so
a changed video, or another backbone, never reads stale features, and a rerun computes only what
is missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from carl_pipeline.atomic import atomic_path
from carl_pipeline.augment import AugmentConfig, apply_view_params, neutral_view
from carl_pipeline.record import weights_digest
from carl_pipeline.video import FrameStore

logger = logging.getLogger(__name__)


class FeatureCache:
    """A folder of per-frame backbone features (module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def key(self, model, image_size: int) -> str:
        """What the features depend on, hashed: the backbone and its frozen weights, the input
        size and normalisation, and the neutral view's definition."""
        config = model.config
        identity = {"backbone": config.backbone, "weights": weights_digest(model.frozen.state_dict()), "image_size": image_size,
                    "input_norm": config.input_norm, "view": "neutral-v1"}
        return hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]

    def features(self, model, store: FrameStore, video_ids: Sequence[str], augment: AugmentConfig,
                 device: torch.device | str = "cpu", progress: bool = True) -> dict[str, np.ndarray]:
        """``{video_id: (num_frames, C)}`` of ``model``'s frozen backbone for every listed video,
        computed for the videos not cached yet (reading the rest from disk, memory-mapped).

        Raises:
            ValueError: the backbone is not entirely frozen (its features would change in training).
        """
        if len(model.trained):
            raise ValueError(f"optim.feature_cache needs the whole backbone frozen; {model.config.backbone} trains its "
                             f"stages after {model.config.freeze_through!r} (set model.freeze_through: all)")
        folder = self.root / self.key(model, augment.image_size)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {v: folder / f"{v}-{store.open(v).content_digest()[:12]}.npy" for v in video_ids}
        missing = [v for v in video_ids if not paths[v].exists()]
        if missing:
            logger.info("caching %s features of %d of %d videos in %s", model.config.backbone, len(missing),
                        len(video_ids), folder)
            model.eval()
            for video_id in tqdm(missing, desc="backbone features", disable=not progress):
                array = self._video_features(model, store, video_id, augment, device)
                with atomic_path(paths[video_id]) as temporary, open(temporary, "wb") as handle:
                    np.save(handle, array)
        return {v: np.load(paths[v], mmap_mode="r") for v in video_ids}

    @staticmethod
    def _video_features(model, store: FrameStore, video_id: str, augment: AugmentConfig,
                        device: torch.device | str) -> np.ndarray:
        pack = store.open(video_id)
        view = neutral_view(pack.header.height, pack.header.width)
        chunk = model.config.frames_per_batch
        out = []
        with torch.no_grad():
            for start in range(0, len(pack), chunk):
                frames = apply_view_params(pack.read(np.arange(start, min(start + chunk, len(pack)))), view, augment)
                out.append(model.backbone_features(frames[None].to(device))[0].float().cpu())
        return torch.cat(out).numpy()
