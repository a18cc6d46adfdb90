"""A run's state in and out of its checkpoints: every random state a step draws from, the
checkpoint of where the run stands, and resuming from the newest intact one."""

from __future__ import annotations

import logging
import random
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from carl_pipeline.record import Checkpoint, RunDir, newest_intact_checkpoint

if TYPE_CHECKING:
    from carl_pipeline.training.setup import Trainer

logger = logging.getLogger(__name__)


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


def trainer_checkpoint(trainer: Trainer, run: dict[str, Any], epoch: int, with_optimizer: bool,
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


def resume(trainer: Trainer, run: dict[str, Any], run_dir: RunDir) -> int:
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
