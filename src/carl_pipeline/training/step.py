"""One optimiser step of a run: the learner (encoder and, for the supervised reference, its
classifier), the configured loss, and the step with its non-finite guard."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

from carl_pipeline.losses import LossConfig
from carl_pipeline.models import CARLEncoder
from carl_pipeline.record import Checkpoint, load_encoder, read_checkpoint

if TYPE_CHECKING:
    from carl_pipeline.training.setup import Trainer

logger = logging.getLogger(__name__)


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
