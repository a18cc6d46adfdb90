"""A run before its first step: the model, optimiser, data and learning-rate schedule
(``setup_training``), held in a ``Trainer`` that every step shares."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.devices import resolve_device
from carl_pipeline.distributed import world as distributed_world
from carl_pipeline.embedding.features import FeatureCache
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import CARLEncoder, EncoderConfig, describe
from carl_pipeline.training.config import OptimConfig, TrainSettings, autocast_dtype
from carl_pipeline.training.data import (
    SamplingConfig,
    TwoViewDataset,
    decode_and_augment_on_device,
)
from carl_pipeline.training.schedule import lr_schedule
from carl_pipeline.training.step import Learner
from carl_pipeline.video import FrameStore

logger = logging.getLogger(__name__)


def _num_classes(labels: dict[str, np.ndarray], video_ids: list[str]) -> int:
    largest = max((int(np.max(labels[v])) for v in video_ids if len(labels[v])), default=-1)
    if largest < 0:
        raise ValueError("the supervised reference needs labelled frames; the training videos have none")
    return largest + 1


@dataclass
class Trainer:
    """What every step of one run shares (``setup_training`` builds it), and where the run stands.

    ``module`` is what a step calls: the ``learner`` (encoder and, for the supervised reference,
    its classifier), or its DistributedDataParallel wrapper under ``torchrun``.
    """

    encoder: EncoderConfig
    sampling: SamplingConfig
    augment: AugmentConfig
    config: OptimConfig
    loss_config: LossConfig
    device: torch.device
    amp_dtype: torch.dtype | None
    scaler: torch.amp.GradScaler
    rank: int
    world: int
    model: CARLEncoder
    learner: Learner
    module: torch.nn.Module
    parameters: list[torch.nn.Parameter]
    optimizer: torch.optim.Optimizer
    dataset: TwoViewDataset
    drop_last: bool
    steps_per_epoch: int
    schedule: np.ndarray  # learning rate per step
    step: int = 0
    skipped: int = 0
    history: list[float] = field(default_factory=list)
    writer: Any = None  # TensorBoard, on rank 0

    def prepare(self, batch: dict) -> torch.Tensor:
        """A loader batch -> its augmented frames ``(B, V, T, 3, S, S)`` on the device (JPEG bytes
        decoded and augmented there on a GPU; frames the loader augmented on a CPU)."""
        if "features" in batch:  # cached backbone features (B, V, T, C): nothing to decode
            return batch["features"].to(self.device, non_blocking=True)
        if "jpegs" in batch:
            return decode_and_augment_on_device(batch, self.augment, self.device)
        return batch["frames"].to(self.device, non_blocking=True)


def _training_device(name: str) -> torch.device:
    device = resolve_device(name)  # auto: this process's LOCAL_RANK GPU under torchrun
    if device.type == "cuda":
        if device.index is None:  # "cuda" means the current device; DDP and set_device need its index
            device = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(device)
    return device


def check_batch(loss_config: LossConfig, batch_size: int, num_videos: int, world: int = 1) -> None:
    """The check made before a run starts: an algorithm that needs several sequences in a batch
    (TCC with one clip per video cycles between its videos) gets them, in every process.

    Raises:
        ValueError: ``batch_size`` videos per process are fewer than the algorithm needs, or the
            ``num_videos`` training videos cannot fill one batch on each of ``world`` processes.
    """
    needed = loss_config.spec.sequences_per_batch(loss_config)
    if needed > 1 and (batch_size < needed or num_videos < batch_size * world):
        raise ValueError(f"{loss_config.spec.display_name} needs {needed} videos in a batch: {num_videos} training "
                         f"videos are too few for batches of {batch_size} per process on {world} process(es)"
                         if batch_size >= needed else
                         f"{loss_config.spec.display_name} needs {needed} videos in a batch, got optim.batch_size "
                         f"{batch_size} (videos per process)")


def setup_training(store_root: str, video_ids: list[str], settings: TrainSettings, *,
                   backbone_state: dict[str, torch.Tensor] | None = None, labels: dict[str, np.ndarray] | None = None,
                   feature_cache: FeatureCache | None = None) -> Trainer:
    """The model, optimiser, data and learning-rate schedule of a run, before any step (see
    ``train`` for the arguments)."""
    encoder, sampling, augment, config = settings.encoder, settings.sampling, settings.augment, settings.optim
    loss_config, device = settings.loss, settings.device
    rank, world, _ = distributed_world()
    device = _training_device(device or config.device)
    torch.manual_seed(config.seed + rank)
    amp_dtype = autocast_dtype(config.precision, device)
    if loss_config.uses_labels and labels is None:
        raise ValueError("the supervised reference trains on frame labels: pass labels")
    labels = labels if loss_config.uses_labels else None
    model = CARLEncoder(encoder, backbone_state).speed_up(config.channels_last, config.compile_backend)
    learner = Learner(model, loss_config, _num_classes(labels, video_ids) if labels is not None else None).to(device)
    if rank == 0:
        logger.info("%s, %s on %s, precision %s", describe(model), loss_config.algorithm.upper(), device,
                    amp_dtype or torch.float32)
    parameters = [p for p in learner.parameters() if p.requires_grad]
    features = None
    if config.feature_cache:  # the frozen backbone's features, computed once (rank 0 writes them)
        cache = feature_cache or FeatureCache(Path(store_root).parent / "backbone_features")
        store = FrameStore(store_root)
        if rank == 0:
            features = cache.features(model, store, video_ids, augment, device, config.progress)
        if world > 1:
            torch.distributed.barrier()
            if rank != 0:  # rank 0 has written them all: read
                features = cache.features(model, store, video_ids, augment, device, progress=False)
    # On a GPU the loader only reads JPEG bytes: the batch is decoded (nvJPEG) and augmented there,
    # one step ahead on a side stream (DevicePrefetcher). On a CPU the loader does it all.
    on_gpu = device.type == "cuda"
    dataset = TwoViewDataset(store_root, video_ids, sampling, augment, config.seed, augment_in_loader=not on_gpu,
                             jpeg_on_device=on_gpu, layout=loss_config.clip_layout,
                             labels=labels, **loss_config.clip_options,
                             verify=config.verify_frames, features=features)
    # An algorithm that needs several sequences in a batch (TCC with one clip per video cycles
    # between its videos) drops a last batch too small for it.
    check_batch(loss_config, config.batch_size, len(dataset), world)
    drop_last = loss_config.spec.sequences_per_batch(loss_config) > 1
    per_step = config.batch_size * world
    if rank == 0 and len(dataset) < per_step:
        logger.warning("batch_size %d (x %d processes) is larger than the %d training videos: every step sees "
                       "all of them, fewer than asked", config.batch_size, world, len(dataset))
    if rank == 0 and augment.image_size < 32:
        logger.warning("augment.image_size %d: inputs under 32 px leave the backbone almost nothing to see "
                       "(ResNet downsamples 32x)", augment.image_size)
    steps_per_epoch = len(dataset) // per_step if drop_last else math.ceil(len(dataset) / per_step)
    if config.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, config.max_steps_per_epoch)
    return Trainer(
        encoder=encoder, sampling=sampling, augment=augment, config=config, loss_config=loss_config, device=device,
        amp_dtype=amp_dtype, scaler=torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16), rank=rank,
        world=world, model=model, learner=learner, module=learner, parameters=parameters,
        optimizer=torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay), dataset=dataset,
        drop_last=drop_last, steps_per_epoch=steps_per_epoch,
        schedule=lr_schedule(config.epochs * steps_per_epoch, int(config.warmup_epochs * steps_per_epoch), config.lr,
                             config.lr_decay))
