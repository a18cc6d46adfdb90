"""CARL's training loop, in parts a reader can follow: ``setup_training`` (model, optimiser,
data, schedule: ``training.setup``), ``train_one_epoch`` (the steps of one epoch, logged) and
``training_step`` (one optimiser step: ``training.step``), which ``train`` runs with its run
folder, resume and checkpoints (``training.resume``). The settings: ``training.config``.

Adam with a warm-up then cosine learning-rate schedule (precomputed per step), gradient-norm
clipping, mixed precision on CUDA (bf16 where supported, else fp16 with a gradient scaler) with a
guard that skips and counts any step whose loss or gradients are not finite, deterministic
seeding, checkpoints every N epochs with resume from the last, TensorBoard logs and a progress
bar. Under ``torchrun`` (``WORLD_SIZE`` > 1) it trains with DistributedDataParallel and a
DistributedSampler; only rank 0 writes.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm.auto import tqdm

from carl_pipeline.atomic import write_json_atomic
from carl_pipeline.distributed import writes
from carl_pipeline.embedding.features import FeatureCache
from carl_pipeline.locking import exclusive_lock
from carl_pipeline.record import Checkpoint, RunDir
from carl_pipeline.training.config import OptimConfig, TrainSettings
from carl_pipeline.training.data import DevicePrefetcher, EpochIndices, collate
from carl_pipeline.training.identity import (
    data_fingerprint,
    labels_fingerprint,
    run_id,
    run_identity,
    run_name,
    state_fingerprint,
)
from carl_pipeline.training.resume import resume, trainer_checkpoint
from carl_pipeline.training.setup import Trainer, setup_training
from carl_pipeline.training.step import training_step
from carl_pipeline.training.tensorboard_log import summary_writer
from carl_pipeline.video import FrameStore

logger = logging.getLogger(__name__)


def epoch_batches(trainer: Trainer, epoch: int):
    """The epoch's batches as ``(batch, frames)`` (``trainer.prepare``d one step ahead), in the
    order every process and every resumed run draws them."""
    config = trainer.config
    if trainer.world > 1:
        sampler = DistributedSampler(trainer.dataset, num_replicas=trainer.world, rank=trainer.rank, shuffle=True,
                                     seed=config.seed)
        sampler.set_epoch(epoch)
    else:
        sampler = RandomSampler(trainer.dataset, generator=torch.Generator().manual_seed(config.seed * 100_003 + epoch))
    loader = DataLoader(trainer.dataset, batch_size=config.batch_size, sampler=EpochIndices(sampler, epoch),
                        num_workers=config.num_workers, collate_fn=collate,
                        pin_memory=trainer.device.type == "cuda", drop_last=trainer.drop_last)
    return DevicePrefetcher(loader, trainer.prepare, trainer.device)


def train_one_epoch(trainer: Trainer, epoch: int) -> float:
    """Every step of one epoch, with its progress bar and TensorBoard scalars; appends the mean
    loss of the steps taken to ``trainer.history`` and returns it (NaN if every step was skipped)."""
    trainer.module.train()
    config, writer = trainer.config, trainer.writer
    losses = []
    bar = tqdm(total=trainer.steps_per_epoch, desc=f"epoch {epoch + 1}/{config.epochs}", unit="step",
               disable=not config.progress or trainer.rank != 0, leave=False)
    waited_from = time.perf_counter()
    for batch_number, (batch, frames) in enumerate(epoch_batches(trainer, epoch)):
        if batch_number >= trainer.steps_per_epoch:
            break
        started = time.perf_counter()
        data_seconds = started - waited_from  # the step waited this long for its batch
        skipped_before = trainer.skipped
        loss, grad_norm = training_step(trainer, batch, frames)
        if trainer.skipped == skipped_before:
            losses.append(loss.item())
        if writer is not None:
            step, seconds = trainer.step - 1, time.perf_counter() - started
            writer.add_scalar("train/loss", loss.item(), step)
            writer.add_scalar("train/lr", trainer.optimizer.param_groups[0]["lr"], step)
            writer.add_scalar("train/grad_norm", grad_norm.item(), step)
            writer.add_scalar("train/frames_per_second", frames.shape[:3].numel() * trainer.world / seconds, step)
            writer.add_scalar("train/data_wait_seconds", data_seconds, step)
            writer.add_scalar("train/skipped_steps", trainer.skipped, step)
        bar.set_postfix(loss=f"{loss.item():.3f}")
        bar.update()
        waited_from = time.perf_counter()
    bar.close()
    trainer.history.append(float(np.mean(losses)) if losses else float("nan"))
    return trainer.history[-1]


def sync_batchnorm(learner: torch.nn.Module) -> torch.nn.Module:
    """``learner`` with every BatchNorm a ``SyncBatchNorm`` (statistics over all processes' batches
    under DDP, on GPUs), as released ``train.py`` does before wrapping. The converted layers hold
    the same Parameter objects and buffers, so the optimiser built before keeps training them."""
    return torch.nn.SyncBatchNorm.convert_sync_batchnorm(learner)


def _effective_sync_batchnorm(config: OptimConfig, trainer: Trainer) -> OptimConfig:
    """``config`` with ``sync_batchnorm`` as it will be: on only under DDP on GPUs (torch's
    SyncBatchNorm has no CPU kernels), so that the run's identity says what happened."""
    if not config.sync_batchnorm or (trainer.world > 1 and trainer.device.type == "cuda"):
        return config
    if trainer.world > 1 and trainer.rank == 0:
        logger.warning("optim.sync_batchnorm: SyncBatchNorm runs on GPUs only; on %s each of the %d processes "
                       "keeps its own BatchNorm statistics", trainer.device.type, trainer.world)
    return replace(config, sync_batchnorm=False)


def _cpu_autocast(trainer: Trainer) -> str | None:
    """``bf16 on cpu`` for a run under bf16 autocast on a CPU (in its identity: earlier versions
    trained the same settings in float32 there), else None."""
    on_cpu_bf16 = trainer.device.type == "cpu" and trainer.amp_dtype == torch.bfloat16
    return "bf16 on cpu" if on_cpu_bf16 else None


def train(store_root: str, video_ids: list[str], settings: TrainSettings, run_dir: RunDir, *,
          backbone_state: dict[str, torch.Tensor] | None = None, backbone_init: str | None = None,
          labels: dict[str, np.ndarray] | None = None, feature_cache: FeatureCache | None = None) -> Checkpoint:
    """Train a CARL encoder (or a baseline's: ``settings.loss.algorithm``) on the given videos of a
    frame store: ``setup_training``, then ``train_one_epoch`` per epoch, checkpoints between.

    ``settings`` holds the architecture, sampling, augmentation, optimisation and loss
    (``TrainSettings``; ``settings.device``, else ``settings.optim.device``, is where it trains).

    ``backbone_state`` (ResNet weights, torchvision names) is where the backbone starts, after
    ``encoder.backbone_weights``; ``backbone_init`` says in the checkpoint what it was.
    ``labels`` (video id -> ``(num_frames,)`` label per frame, -1 unlabelled) are read only by the
    ``supervised`` reference, which needs them. ``feature_cache``: where a frozen backbone's
    features are kept with ``settings.optim.feature_cache`` (default: ``backbone_features`` beside the
    frame store).

    ``run_dir`` is the root of the runs: this run trains in its own folder under it,
    ``<algorithm>-lr<lr>-seed<seed>-<run id>``, keyed by everything that changes the result
    (``carl_pipeline.training.identity``). A rerun with the same identity resumes from that
    folder's last checkpoint (with every random state restored, so an interrupted run ends with
    the same weights as an uninterrupted one) and does no more work when it is finished; any
    other change (more epochs included) starts a new run and leaves the old one as it was.

    Returns:
        The final ``Checkpoint`` (weights on the CPU, the settings, the loss per epoch, and
        ``run``: ``id``, ``name``, ``folder`` and the ``identity``).
    """
    trainer = setup_training(store_root, video_ids, settings, backbone_state=backbone_state, labels=labels,
                             feature_cache=feature_cache)
    encoder, sampling, augment, config = settings.encoder, settings.sampling, settings.augment, settings.optim
    labels = labels if trainer.loss_config.uses_labels else None
    config = _effective_sync_batchnorm(config, trainer)
    identity = run_identity(encoder, sampling, augment, trainer.loss_config, config,
                            data_fingerprint(FrameStore(store_root), video_ids), state_fingerprint(backbone_state),
                            trainer.world, labels=labels_fingerprint(labels, video_ids),
                            autocast=_cpu_autocast(trainer))
    run = {"id": run_id(identity), "name": run_name(identity), "identity": identity}
    asked_by = run_dir.namespace
    rank0 = writes()  # the run folder, its checkpoints and logs
    run_dir = run_dir.run_folder(run["name"]) if rank0 else run_dir.child(run["name"])
    run["folder"] = str(run_dir.root)
    # One writer per run folder: a second process training the same run waits here, then resumes
    # the finished run (no more work) instead of training it a second time beside the first.
    with exclusive_lock(run_dir.root, f"training run {run['name']}") if rank0 else nullcontext():
        if trainer.world > 1:
            torch.distributed.barrier()  # the other ranks read the checkpoints once rank 0 holds the run
        if rank0:
            write_json_atomic(run_dir.root / "identity.json", identity)
            run["namespaces"] = run_dir.record_namespace()
        if asked_by is not None:
            run["asked_by"] = asked_by
        start_epoch = resume(trainer, run, run_dir)
        if trainer.world > 1:
            if config.sync_batchnorm:
                trainer.learner = sync_batchnorm(trainer.learner)
            trainer.module = torch.nn.parallel.DistributedDataParallel(
                trainer.learner, device_ids=[trainer.device.index] if trainer.device.type == "cuda" else None,
                # the projection head sits unused when the loss reads the embedding (TCC, TCN, supervised)
                find_unused_parameters=not trainer.loss_config.projection or trainer.learner.head is not None)
        # A finished run opens no log: a namespace that finds it done leaves one training log
        trainer.writer = summary_writer(run_dir) if rank0 and start_epoch < config.epochs else None
        for epoch in range(start_epoch, config.epochs):
            loss = train_one_epoch(trainer, epoch)
            if rank0:
                logger.info("epoch %d/%d: loss %.4f", epoch + 1, config.epochs, loss)
                trainer.writer.add_scalar("train/epoch_loss", loss, epoch + 1)
                if (epoch + 1) % config.checkpoint_every == 0 or epoch + 1 == config.epochs:
                    run_dir.save(trainer_checkpoint(trainer, run, epoch + 1, True, backbone_init).to_dict(), epoch + 1)
        if trainer.writer is not None:
            trainer.writer.close()
        if trainer.world > 1:
            torch.distributed.barrier()
        return trainer_checkpoint(trainer, run, config.epochs, False, backbone_init)


