"""CARL's training loop, in three parts a reader can follow: ``setup_training`` (model,
optimiser, data, schedule), ``train_one_epoch`` (the steps of one epoch, logged) and
``training_step`` (one optimiser step), which ``train`` runs with its run folder, resume and
checkpoints.

Adam with a warm-up then cosine learning-rate schedule (precomputed per step), gradient-norm
clipping, mixed precision on CUDA (bf16 where supported, else fp16 with a gradient scaler) with a
guard that skips and counts any step whose loss or gradients are not finite, deterministic
seeding, checkpoints every N epochs with resume from the last, TensorBoard logs and a progress
bar. Under ``torchrun`` (``WORLD_SIZE`` > 1) it trains with DistributedDataParallel and a
DistributedSampler; only rank 0 writes.
"""

from __future__ import annotations

import logging
import math
import random
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm.auto import tqdm

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.checks import check_choice, check_ranges
from carl_pipeline.devices import resolve_device
from carl_pipeline.distributed import world as distributed_world
from carl_pipeline.distributed import writes
from carl_pipeline.embedding.features import FeatureCache
from carl_pipeline.locking import exclusive_lock
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import CARLEncoder, EncoderConfig, describe
from carl_pipeline.record import (
    Checkpoint,
    RunDir,
    load_encoder,
    newest_intact_checkpoint,
    read_checkpoint,
)
from carl_pipeline.training.data import (
    DevicePrefetcher,
    EpochIndices,
    SamplingConfig,
    TwoViewDataset,
    collate,
    decode_and_augment_on_device,
)
from carl_pipeline.training.identity import (
    data_fingerprint,
    labels_fingerprint,
    run_id,
    run_identity,
    run_name,
    state_fingerprint,
)
from carl_pipeline.training.schedule import lr_schedule
from carl_pipeline.training.tensorboard_log import summary_writer
from carl_pipeline.video import FrameStore
from carl_pipeline.video.frame_store import write_json_atomic

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OptimConfig:
    """Optimisation settings (defaults: the paper's, except the epoch count). The loss and its
    settings are a ``LossConfig`` of their own."""

    epochs: int = 500  # paper: 500 Pouring, 300 Penn Action and FineGym
    batch_size: int = 4  # videos per step (per GPU)
    lr: float = 1e-4
    # "cosine": cosine decay to 0 over the run (CARL's configs); "fixed": the learning rate held
    # (released tcc_config.yml and tcn_config.yml: OPTIMIZER.LR.DECAY_TYPE fixed). Warm-up first.
    lr_decay: str = "cosine"
    weight_decay: float = 1e-5
    warmup_epochs: float = 1.0
    grad_clip: float = 10.0
    precision: str = "auto"  # "auto": bf16/fp16 on CUDA, fp32 on CPU; or "bf16", "fp16", "fp32"
    checkpoint_every: int = 10  # epochs
    seed: int = 0
    num_workers: int = 0
    max_steps_per_epoch: int | None = None  # cap for quick runs; None: every video once per epoch
    progress: bool = True
    device: str = "auto"  # auto, cpu, cuda, cuda:N or mps (carl_pipeline.devices.resolve_device)
    channels_last: bool = False  # the backbone in channels_last memory format (GPUs)
    compile_backend: str | None = None  # torch.compile the backbone with this backend (e.g. inductor); None: off
    verify_frames: bool = True  # check every frame read against its pack's checksum (under 0.1% of a CPU step)
    # Under DDP on GPUs, BatchNorm statistics over every process's batch (released train.py:
    # convert_sync_batchnorm). torch's SyncBatchNorm runs on GPUs only: on CPUs each process keeps
    # its own statistics, said in the log and in the run's identity.
    sync_batchnorm: bool = False
    # With the whole backbone frozen, train the temporal head on each frame's backbone feature,
    # computed once (carl_pipeline.embedding.features: one neutral view per frame, so no spatial
    # or colour augmentation) instead of running the backbone every step.
    feature_cache: bool = False

    def __post_init__(self):
        check_choice("precision", self.precision, ("auto", "bf16", "fp16", "fp32"))
        check_choice("lr_decay", self.lr_decay, ("cosine", "fixed"))
        check_ranges(self, {"epochs": ">= 1", "batch_size": ">= 1", "checkpoint_every": ">= 1", "lr": "> 0",
                            "weight_decay": ">= 0", "warmup_epochs": ">= 0", "grad_clip": "> 0",
                            "num_workers": ">= 0", "max_steps_per_epoch": ">= 1"})


def _autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def compute_loss(outputs: torch.Tensor, batch: dict[str, torch.Tensor], config: LossConfig,
                 amp_dtype: torch.dtype | None = None) -> torch.Tensor:
    """The configured algorithm's loss (its row of ``carl_pipeline.losses.algorithms``), in float32;
    ``amp_dtype``, the forward pass's autocast dtype, only sets the dtype of SCL's ``released``
    target.

    Args:
        outputs: ``(B, V, T, D)``: the (projected) embeddings of every view, or for an algorithm
            that uses labels the class logits ``(B, 1, T, C)``.
        batch: ``steps``, ``masks`` ``(B, V, T)``, ``seq_len`` ``(B, V)``, ``epoch`` (an int:
            the epoch of this step) and, for an algorithm that uses labels, ``labels`` ``(B, V, T)``.
    """
    return config.spec.loss(outputs, batch, config, amp_dtype)


class Learner(torch.nn.Module):
    """The encoder and, for the supervised reference, its frame classifier: one module, so that
    one optimiser and DDP see both. ``forward`` gives what ``compute_loss`` reads."""

    def __init__(self, encoder: CARLEncoder, loss: LossConfig, num_classes: int | None):
        super().__init__()
        self.encoder, self.loss = encoder, loss
        self.head = torch.nn.Linear(encoder.config.embedding_size, num_classes) if num_classes else None

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint | dict[str, Any]) -> Learner:
        """The encoder and head a checkpoint holds, as trained (for scoring the training loss)."""
        checkpoint = read_checkpoint(checkpoint)
        head = checkpoint.head or {}
        learner = cls(load_encoder(checkpoint), LossConfig.from_dict(checkpoint.loss),
                      head["weight"].shape[0] if "weight" in head else None)
        if learner.head is not None:
            learner.head.load_state_dict(head)
        return learner

    def forward(self, frames: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """``(N, T, 3, S, S)`` frames (or ``(N, T, C)`` cached backbone features), ``(N, T)``
        masks -> ``(N, T, D)`` what the loss reads."""
        embed = self.encoder.embed_features if frames.dim() == 3 else self.encoder
        if self.head is not None:
            return self.head(embed(frames, masks, project=False, normalize=self.loss.l2_normalize))
        return embed(frames, masks, project=self.loss.projection, normalize=self.loss.l2_normalize)


def _num_classes(labels: dict[str, np.ndarray], video_ids: list[str]) -> int:
    largest = max((int(np.max(labels[v])) for v in video_ids if len(labels[v])), default=-1)
    if largest < 0:
        raise ValueError("the supervised reference needs labelled frames; the training videos have none")
    return largest + 1


def rng_state() -> dict[str, Any]:
    """Every random state a training step draws from (torch's global generator, which drives
    dropout; NumPy's; Python's; CUDA's), in types ``torch.load(weights_only=True)`` reads."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, python_state, python_gauss = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": version, "state": list(python_state), "gauss": python_gauss}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    torch.set_rng_state(state["torch"])
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["gauss"]))
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


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


def setup_training(store_root: str, video_ids: list[str], encoder: EncoderConfig, sampling: SamplingConfig,
                   augment: AugmentConfig, config: OptimConfig, device: str | None = None,
                   loss_config: LossConfig | None = None, backbone_state: dict[str, torch.Tensor] | None = None,
                   labels: dict[str, np.ndarray] | None = None, feature_cache: FeatureCache | None = None) -> Trainer:
    """The model, optimiser, data and learning-rate schedule of a run, before any step (see
    ``train`` for the arguments)."""
    loss_config = loss_config or LossConfig()
    rank, world, _ = distributed_world()
    device = _training_device(device or config.device)
    torch.manual_seed(config.seed + rank)
    amp_dtype = _autocast_dtype(config.precision, device)
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


def training_step(trainer: Trainer, batch: dict, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step on a batch: forward under autocast, the loss in float32, backward,
    gradient clipping, and the guard: a step whose loss or gradient norm is not finite is skipped
    and counted (it would poison the weights). Advances ``trainer.step``.

    Args:
        batch: the loader's batch (``steps``, ``masks``, ``seq_len``, ``labels``: ``(B, V, T)``).
        frames: ``trainer.prepare(batch)``, ``(B, V, T, 3, S, S)`` on the device.

    Returns:
        The loss and the gradient norm (0-d tensors).
    """
    for group in trainer.optimizer.param_groups:
        group["lr"] = float(trainer.schedule[min(trainer.step, len(trainer.schedule) - 1)])
    batch = {k: batch[k].to(trainer.device) for k in ("steps", "masks", "seq_len", "labels") if k in batch}
    batch["epoch"] = trainer.step // max(1, trainer.steps_per_epoch)  # VAVA's prior schedule reads it
    videos, views = frames.shape[:2]
    amp_dtype = trainer.amp_dtype
    with torch.autocast(trainer.device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        outputs = trainer.module(frames.flatten(0, 1), batch["masks"].flatten(0, 1))
    loss = compute_loss(outputs.float().unflatten(0, (videos, views)), batch, trainer.loss_config, amp_dtype)
    trainer.optimizer.zero_grad(set_to_none=True)
    trainer.scaler.scale(loss).backward()
    trainer.scaler.unscale_(trainer.optimizer)
    grad_norm = torch.nn.utils.clip_grad_norm_(trainer.parameters, trainer.config.grad_clip)
    if torch.isfinite(loss) and torch.isfinite(grad_norm):
        trainer.scaler.step(trainer.optimizer)
    else:
        trainer.skipped += 1
        logger.warning("step %d skipped: loss %s, grad norm %s", trainer.step, loss.item(), grad_norm.item())
    trainer.scaler.update()
    trainer.step += 1
    return loss, grad_norm


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


def _checkpoint(trainer: Trainer, run: dict[str, Any], epoch: int, with_optimizer: bool,
                backbone_init: str | None) -> Checkpoint:
    """The run's state after ``epoch``; ``with_optimizer``: also what resuming needs."""
    resume = {"optimizer": trainer.optimizer.state_dict(), "scaler": trainer.scaler.state_dict(), "rng": rng_state()} \
        if with_optimizer else {}
    if trainer.learner.head is not None:
        resume["head"] = {k: v.detach().cpu() for k, v in trainer.learner.head.state_dict().items()}
    return Checkpoint(model={k: v.detach().cpu() for k, v in trainer.model.state_dict().items()},
                      encoder=trainer.encoder.to_dict(), sampling=asdict(trainer.sampling),
                      augment=asdict(trainer.augment), optim=asdict(trainer.config), loss=asdict(trainer.loss_config),
                      backbone_init=backbone_init or trainer.encoder.backbone_weights or "random init", epoch=epoch,
                      step=trainer.step, skipped_steps=trainer.skipped, history=list(trainer.history), run=run, **resume)


def _resume(trainer: Trainer, run: dict[str, Any], run_dir: RunDir) -> int:
    """Load the newest intact checkpoint of the run folder (weights, optimiser, scaler, every
    random state, progress) into ``trainer``; returns the epoch to start from (0: a new run)."""
    latest, state = newest_intact_checkpoint(run_dir)
    if state is None:
        if trainer.rank == 0:
            logger.info("run %s: a new run in %s", run["name"], run_dir.root)
        return 0
    if state.run_record.id != run["id"] or state.optimizer is None or state.rng is None:
        raise ValueError(f"{latest}: not a resumable checkpoint of this run (id {state.run_record.id}, "
                         f"expected {run['id']}); move it away")
    if state.epoch > trainer.config.epochs:  # only a run folder copied by hand: epochs are in the identity
        raise ValueError(f"{run_dir.root}: this run has trained {state.epoch} epochs, more than the "
                         f"{trainer.config.epochs} asked for")
    trainer.model.load_state_dict(state.model)
    if trainer.learner.head is not None:
        trainer.learner.head.load_state_dict(state.head)
    trainer.optimizer.load_state_dict(state.optimizer)
    trainer.scaler.load_state_dict(state.scaler)
    set_rng_state(state.rng)
    trainer.step, trainer.skipped, trainer.history = state.step, state.skipped_steps, list(state.history)
    if trainer.rank == 0:
        logger.info("run %s: resuming from %s (epoch %d of %d)", run["name"], latest, state.epoch, trainer.config.epochs)
    return state.epoch


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


def train(
    store_root: str,
    video_ids: list[str],
    encoder: EncoderConfig,
    sampling: SamplingConfig,
    augment: AugmentConfig,
    config: OptimConfig,
    run_dir: RunDir,
    device: str | None = None,
    loss_config: LossConfig | None = None,
    backbone_state: dict[str, torch.Tensor] | None = None,
    backbone_init: str | None = None,
    labels: dict[str, np.ndarray] | None = None,
    feature_cache: FeatureCache | None = None,
) -> Checkpoint:
    """Train a CARL encoder (or a baseline's: ``loss_config.algorithm``) on the given videos of a
    frame store: ``setup_training``, then ``train_one_epoch`` per epoch, checkpoints between.

    ``backbone_state`` (ResNet weights, torchvision names) is where the backbone starts, after
    ``encoder.backbone_weights``; ``backbone_init`` says in the checkpoint what it was.
    ``labels`` (video id -> ``(num_frames,)`` label per frame, -1 unlabelled) are read only by the
    ``supervised`` reference, which needs them. ``feature_cache``: where a frozen backbone's
    features are kept with ``config.feature_cache`` (default: ``backbone_features`` beside the
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
    trainer = setup_training(store_root, video_ids, encoder, sampling, augment, config, device, loss_config,
                             backbone_state, labels, feature_cache)
    labels = labels if trainer.loss_config.uses_labels else None
    config = _effective_sync_batchnorm(config, trainer)
    identity = run_identity(encoder, sampling, augment, trainer.loss_config, config,
                            data_fingerprint(FrameStore(store_root), video_ids), state_fingerprint(backbone_state),
                            trainer.world, labels=labels_fingerprint(labels, video_ids))
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
        start_epoch = _resume(trainer, run, run_dir)
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
                    run_dir.save(_checkpoint(trainer, run, epoch + 1, True, backbone_init).to_dict(), epoch + 1)
        if trainer.writer is not None:
            trainer.writer.close()
        if trainer.world > 1:
            torch.distributed.barrier()
        return _checkpoint(trainer, run, config.epochs, False, backbone_init)


