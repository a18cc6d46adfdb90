"""Two augmented views per video, read from a frame store: the training data of CARL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from carl_pipeline.augment import AugmentConfig, apply_view_params, sample_view_params
from carl_pipeline.sampling import SamplingConfig, make_sampler
from carl_pipeline.sampling.temporal import ViewSteps
from carl_pipeline.video.frame_store import FrameStore


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


def arrange_clip(views: ViewSteps, layout: str, num_frames: int, positive_window: int,
                 generator: torch.Generator) -> ViewSteps:
    """Turn a sampler's two views into what one training sample of ``layout`` holds (``V`` views).

    ``two_views``: both, as sampled (V = 2). ``one_view``: the first (V = 1). ``same_frames``: the
    first twice, to be augmented twice (V = 2, SimCLR). ``anchor_positive``: the first view's
    first ``T/2`` steps as anchors, each followed by a positive 1 to ``positive_window`` frames
    before it (V = 1, T frames; TCN as released: ``steps + randint(-pos_window, 0)``), so the
    sampler must have been asked for ``T/2`` steps.
    """
    if layout == "two_views":
        return views
    if layout == "one_view":
        return ViewSteps(views.steps[:1], views.frame_indices[:1], views.masks[:1], views.seq_len[:1])
    if layout == "same_frames":
        return ViewSteps(views.steps[[0, 0]], views.frame_indices[[0, 0]], views.masks[[0, 0]], views.seq_len[[0, 0]])
    if layout != "anchor_positive":
        raise ValueError(f"unknown clip layout {layout!r}")
    anchors = views.steps[0]  # (T/2,)
    positives = anchors - torch.randint(1, positive_window + 1, anchors.shape, generator=generator)
    steps = torch.stack([anchors, positives], dim=1).reshape(1, -1)  # anchor, positive, anchor, ...
    masks = ((steps >= 0) & (steps < num_frames)).float()
    return ViewSteps(steps, steps.clamp(0, num_frames - 1), masks, views.seq_len[:1])


class TwoViewDataset(Dataset):
    """Item ``(index, epoch)`` -> the sampled, augmented views of one video (two for CARL).

    Returns a dict with ``frames`` ``(V, T, 3, S, S)`` float32 (augmented; or ``(V, T, 3, H, W)``
    uint8 with ``augment=False``, for augmentation on the GPU), ``steps`` ``(V, T)``, ``masks``
    ``(V, T)``, ``seq_len`` ``(V,)``, ``video`` (index into ``video_ids``), ``view_params`` (the
    augmentation draws, used when augmenting later) and, when ``labels`` are given, ``labels``
    ``(V, T)`` long (-1 on padding and unlabelled frames). ``V`` and what the views show follow
    ``layout`` (``arrange_clip``; ``LossConfig.clip_layout`` says which layout each loss needs).

    With ``features`` (``{video_id: (num_frames, C)}``, a frozen backbone's cached features:
    ``carl_pipeline.embedding.FeatureCache``) an item holds ``features`` ``(V, T, C)`` instead of
    frames: nothing is decoded or augmented.
    """

    def __init__(self, store_root: str, video_ids: Sequence[str], sampling: SamplingConfig,
                 augment: AugmentConfig, seed: int = 0, augment_in_loader: bool = True,
                 layout: str = "two_views", positive_window: int = 5,
                 labels: dict[str, np.ndarray] | None = None, jpeg_on_device: bool = False,
                 verify: bool = True, features: dict[str, np.ndarray] | None = None):
        self.store = FrameStore(store_root, verify=verify)  # verify: each frame read against its checksum
        self.video_ids = list(video_ids)
        if not self.video_ids:
            raise ValueError(f"{store_root}: no training videos")
        self.sampling, self.augment, self.seed = sampling, augment, seed
        self.augment_in_loader = augment_in_loader
        self.sampler = make_sampler(sampling.strategy)
        self.layout, self.positive_window = layout, positive_window
        if layout == "anchor_positive" and sampling.num_steps % 2:
            raise ValueError(f"TCN clips interleave anchors and positives: sampling.num_steps must be even, "
                             f"got {sampling.num_steps}")
        if labels is not None:
            missing = [v for v in self.video_ids if v not in labels]
            if missing:
                raise ValueError(f"no frame labels for training videos {missing[:5]}")
        self.labels = labels
        # Hand over the frames' JPEG bytes instead of decoded frames: the training loop decodes a
        # whole batch at once on the GPU (nvJPEG) and augments it there.
        self.jpeg_on_device = jpeg_on_device
        self.features = features
        if features is not None:
            missing = [v for v in self.video_ids if v not in features]
            if missing:
                raise ValueError(f"no cached features for training videos {missing[:5]}")

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
        num_steps = self.sampling.num_steps // 2 if self.layout == "anchor_positive" else self.sampling.num_steps
        views = self.sampler(len(pack), num_steps, generator=generator, **kwargs)
        views = arrange_clip(views, self.layout, len(pack), self.positive_window, generator)
        # Decode each needed frame once, although both views use most of them.
        needed, inverse = torch.unique(views.frame_indices, return_inverse=True)
        count = len(views.steps)
        # Every frame of a pack has the pack's size (ingestion standardises it).
        params = [sample_view_params(pack.header.height, pack.header.width, self.augment, generator)
                  for _ in range(count)]
        item = {"steps": views.steps, "masks": views.masks, "seq_len": views.seq_len, "video": torch.tensor(index),
                "view_params": params}
        if self.labels is not None:
            video_labels = torch.tensor(np.asarray(self.labels[self.video_ids[index]], dtype=np.int64))
            item["labels"] = torch.where(views.masks.bool(), video_labels[views.frame_indices], -1)
        if self.features is not None:  # a frozen backbone's features, read instead of frames
            item["features"] = torch.from_numpy(np.ascontiguousarray(
                self.features[self.video_ids[index]][views.frame_indices.numpy()], dtype=np.float32))  # (V, T, C)
            return item
        if self.jpeg_on_device:
            item["jpegs"] = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in pack.read_jpeg(needed.numpy())]
            item["inverse"] = inverse
            return item
        decoded = pack.read(needed.numpy())  # (U, 3, H, W) uint8
        if self.augment_in_loader:
            size = self.augment.image_size
            item["frames"] = torch.empty(count, len(views.steps[0]), 3, size, size)  # each view written in place
            for v in range(count):
                apply_view_params(decoded[inverse[v]], params[v], self.augment, out=item["frames"][v])
        else:
            item["frames"] = decoded[inverse]  # (V, T, 3, H, W) uint8
        return item


def collate(items: list[dict]) -> dict:
    """Stack a batch; uint8 views of different sizes stay a list (augmented later, per video), as
    do the JPEG bytes and their ``inverse`` index when the loader hands those over."""
    keys = ("steps", "masks", "seq_len", "video") + (("labels",) if "labels" in items[0] else ())
    out = {key: torch.stack([item[key] for item in items]) for key in keys}
    if "features" in items[0]:
        out["features"] = torch.stack([item["features"] for item in items])  # (B, V, T, C)
    elif "jpegs" in items[0]:
        out["jpegs"] = [item["jpegs"] for item in items]
        out["inverse"] = [item["inverse"] for item in items]
    else:
        frames = [item["frames"] for item in items]
        same_shape = all(f.shape == frames[0].shape for f in frames)
        out["frames"] = torch.stack(frames) if same_shape else frames
    out["view_params"] = [item["view_params"] for item in items]
    return out


def decode_and_augment_on_device(batch: dict, augment: AugmentConfig, device: torch.device) -> torch.Tensor:
    """The JPEG bytes of a batch decoded in one call on ``device`` (nvJPEG on CUDA, the CPU
    decoder elsewhere), each view gathered from its video's frames and augmented there with the
    loader's draws: ``(B, V, T, 3, S, S)``."""
    from carl_pipeline.video.jpeg import decode_jpegs

    counts = [len(jpegs) for jpegs in batch["jpegs"]]
    decoded = decode_jpegs([j for jpegs in batch["jpegs"] for j in jpegs], device)  # every frame of the batch
    videos, start = [], 0
    for count, inverse, params in zip(counts, batch["inverse"], batch["view_params"], strict=True):
        frames = torch.stack(decoded[start:start + count])  # (U, 3, H, W) uint8 on the device
        start += count
        videos.append(_augment_views(frames[inverse.to(frames.device)], params, augment))
    return torch.stack(videos)


def _augment_views(views: torch.Tensor, params: list, augment: AugmentConfig) -> torch.Tensor:
    """``(V, T, 3, H, W)`` uint8 views of one video, each augmented with its draw: ``(V, T, 3, S, S)``."""
    return torch.stack([apply_view_params(views[v], params[v], augment) for v in range(len(params))])


class DevicePrefetcher:
    """Batches from ``loader`` made ready on ``device`` by ``prepare`` one step ahead: on CUDA
    the next batch is decoded and augmented on a side stream while the current step runs on the
    default one; elsewhere ``prepare`` runs in line. Yields ``(batch, prepared)``."""

    def __init__(self, loader, prepare, device: torch.device):
        self.loader, self.prepare, self.device = loader, prepare, device

    def __iter__(self):
        if self.device.type != "cuda":  # nothing to overlap with: no batch prepared ahead of need
            for batch in self.loader:
                yield batch, self.prepare(batch)
            return
        side = torch.cuda.Stream(self.device)
        batches = iter(self.loader)

        def ready_next():
            batch = next(batches, None)
            if batch is None:
                return None
            with torch.cuda.stream(side):
                return batch, self.prepare(batch)

        upcoming = ready_next()
        while upcoming is not None:
            batch, prepared = upcoming
            torch.cuda.current_stream(self.device).wait_stream(side)
            prepared.record_stream(torch.cuda.current_stream(self.device))  # made on the side stream
            upcoming = ready_next()  # the next batch's decoding overlaps this step
            yield batch, prepared
