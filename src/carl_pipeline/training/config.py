"""What a training run is told: the optimisation settings, and the bundle of every setting a run
is trained with (``TrainSettings``: architecture, sampling, augmentation, optimisation, loss)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.checks import check_choice, check_ranges
from carl_pipeline.devices import cpu_has_native_bf16
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import EncoderConfig
from carl_pipeline.sampling import SamplingConfig

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
    precision: str = "auto"  # "auto": bf16/fp16 on CUDA, bf16 on a CPU with native bf16, else fp32; or "bf16", "fp16", "fp32"
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


@dataclass(frozen=True)
class TrainSettings:
    """Every setting a run trains with, as ``train`` takes them: what the run's identity is made
    of (with the data and the backbone's starting weights). ``device``: where to train (None:
    ``optim.device``)."""

    encoder: EncoderConfig
    sampling: SamplingConfig
    augment: AugmentConfig
    optim: OptimConfig
    loss: LossConfig = field(default_factory=LossConfig)
    device: str | None = None


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype training runs in on ``device`` (None: float32): on CUDA bf16 where it
    is supported, else fp16, as ``precision`` says; on a CPU bf16 when asked for, or under
    ``auto`` where the CPU computes in bf16 natively (``devices.cpu_has_native_bf16``: about 1.6x
    faster there, issue 36; elsewhere emulated and slower than float32), else float32. A CPU run in
    bf16 carries it in its identity (other weights). ``fp16`` (the released configs' CUDA autocast)
    trains in float32 on a CPU.
    """
    if device.type == "cpu":
        native = cpu_has_native_bf16()
        if precision == "auto" and native:
            logger.info("precision auto: bf16 autocast on this CPU (it has native bf16); fp32 on request "
                        "(optim.precision: fp32)")
            return torch.bfloat16
        if precision == "bf16":
            if not native:
                logger.warning("precision bf16 on a CPU without native bf16 (avx512_bf16/amx_bf16): emulated, "
                               "likely slower than fp32")
            return torch.bfloat16
        return None
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16
