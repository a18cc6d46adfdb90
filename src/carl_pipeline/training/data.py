"""Two augmented views per video, read from a frame store: the training data of CARL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from carl_pipeline.augment import AugmentConfig, apply_view_params, sample_view_params
from carl_pipeline.sampling import make_sampler
from carl_pipeline.sampling.temporal import WINDOWS
from carl_pipeline.video.frame_store import FrameStore


@dataclass(frozen=True)
class SamplingConfig:
    """How frames are chosen per view (defaults: the paper's, Pouring).

    ``num_steps`` is the clip length T, the one setting of it: the encoder's ``train_length`` (the
    span its position encoding is scaled to) is taken from it. ``window`` is the block
    ``time_augment`` draws from: ``video`` (Pouring, Penn Action), ``clip`` (FineGym) or
    ``shifted`` (the demo's variant); see ``carl_pipeline.sampling.time_augment``.
    """

    strategy: str = "time_augment"
    num_steps: int = 240  # T: 240 Pouring and FineGym, 80 Penn Action
    sampling_region: float = 1.5
    consistent_offset: float = 0.2
    window: str = "video"

    def __post_init__(self):
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}, got {self.window!r}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The random stream of one sample: the same for a given (seed, epoch, video), whichever
    worker or process draws it."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch, index]).generate_state(1)[0]))


class EpochIndices(Sampler):
    """Yields ``(index, epoch)`` pairs from any index sampler, so each sample's randomness can
    depend on the epoch (workers may be persistent and never see attribute changes)."""

    def __init__(self, indices: Sampler | Sequence[int], epoch: int):
        self.indices, self.epoch = indices, epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return ((int(i), self.epoch) for i in self.indices)

    def __len__(self) -> int:
        return len(self.indices)


class TwoViewDataset(Dataset):
    """Item ``(index, epoch)`` -> two sampled, augmented views of one video.

    Returns a dict with ``frames`` ``(2, T, 3, S, S)`` float32 (augmented; or ``(2, T, 3, H, W)``
    uint8 with ``augment=False``, for augmentation on the GPU), ``steps`` ``(2, T)``, ``masks``
    ``(2, T)``, ``seq_len`` ``(2,)``, ``video`` (index into ``video_ids``) and ``view_params``
    (the two augmentation draws, used when augmenting later).
    """

    def __init__(self, store_root: str, video_ids: Sequence[str], sampling: SamplingConfig,
                 augment: AugmentConfig, seed: int = 0, augment_in_loader: bool = True):
        self.store = FrameStore(store_root)
        self.video_ids = list(video_ids)
        if not self.video_ids:
            raise ValueError(f"{store_root}: no training videos")
        self.sampling, self.augment, self.seed = sampling, augment, seed
        self.augment_in_loader = augment_in_loader
        self.sampler = make_sampler(sampling.strategy)

    def __len__(self) -> int:
        return len(self.video_ids)

    def __getitem__(self, item: tuple[int, int]) -> dict:
        index, epoch = item if isinstance(item, tuple) else (item, 0)
        generator = sample_generator(self.seed, epoch, index)
        pack = self.store.open(self.video_ids[index])
        kwargs = {}
        if self.sampling.strategy == "time_augment":
            kwargs = {"sampling_region": self.sampling.sampling_region, "consistent_offset": self.sampling.consistent_offset,
                      "window": self.sampling.window}
        views = self.sampler(len(pack), self.sampling.num_steps, generator=generator, **kwargs)
        # Decode each needed frame once, although both views use most of them.
        needed, inverse = torch.unique(views.frame_indices, return_inverse=True)
        decoded = pack.read(needed.numpy())  # (U, 3, H, W) uint8
        height, width = decoded.shape[-2:]
        params = [sample_view_params(height, width, self.augment, generator) for _ in range(2)]
        if self.augment_in_loader:
            frames = torch.stack([apply_view_params(decoded[inverse[v]], params[v], self.augment) for v in range(2)])
        else:
            frames = decoded[inverse]  # (2, T, 3, H, W) uint8
        return {"frames": frames, "steps": views.steps, "masks": views.masks, "seq_len": views.seq_len,
                "video": torch.tensor(index), "view_params": params}


def collate(items: list[dict]) -> dict:
    """Stack a batch; uint8 views of different sizes stay a list (augmented later, per video)."""
    out = {key: torch.stack([item[key] for item in items]) for key in ("steps", "masks", "seq_len", "video")}
    frames = [item["frames"] for item in items]
    same_shape = all(f.shape == frames[0].shape for f in frames)
    out["frames"] = torch.stack(frames) if same_shape else frames
    out["view_params"] = [item["view_params"] for item in items]
    return out


def augment_batch_on_device(batch: dict, augment: AugmentConfig, device: torch.device) -> torch.Tensor:
    """Augment uint8 views on ``device`` with the draws made in the loader: ``(B, 2, T, 3, S, S)``."""
    videos = []
    for frames, params in zip(batch["frames"], batch["view_params"], strict=True):
        frames = frames.to(device, non_blocking=True)
        videos.append(torch.stack([apply_view_params(frames[v], params[v], augment) for v in range(2)]))
    return torch.stack(videos)
