"""The trained model as a typed record: weights, the settings that made it, its run and history.

On disk (``carl.pt``, the run's ``epoch_NNNN.pt``) a checkpoint is a plain dict of tensors and
plain values (``to_dict``), so ``torch.load(weights_only=True)`` reads it and no code is ever
unpickled; in code it is a ``Checkpoint``, read from whatever holds it through one function,
``read_checkpoint``, which checks the schema version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:  # imported where used: reading a checkpoint loads no model code
    from carl_pipeline.models import CARLEncoder, EncoderConfig

#: Version of the on-disk layout. 1: the run (``run``: id, name, folder, identity) and the random
#: states of a resumable checkpoint (``rng``). 2: the optimiser block is ``optim``, as in conf
#: (it was ``train``; older files are read with it renamed). Files without ``schema_version`` are
#: version 0.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class RunRecord:
    """The training run that made a checkpoint's weights, as the checkpoint stores it (``run``):
    ``id`` (eight hex digits of its identity), ``name`` (its folder's name), ``folder`` (where it
    trained), ``identity`` (the settings that define it), ``namespaces`` (every pipeline namespace
    that has used the run, as its folder recorded them when this checkpoint was made) and
    ``asked_by`` (the namespace this checkpoint was made for). All None (``namespaces`` empty) for
    a released or untrained checkpoint, which no run here made."""

    id: str | None = None
    name: str | None = None
    folder: str | None = None
    identity: Mapping[str, Any] | None = None
    namespaces: tuple[str, ...] = ()
    asked_by: str | None = None

    @classmethod
    def from_dict(cls, run: Mapping[str, Any] | None) -> RunRecord:
        run = run or {}
        return cls(id=run.get("id"), name=run.get("name"), folder=run.get("folder"), identity=run.get("identity"),
                   namespaces=tuple(run.get("namespaces") or ()), asked_by=run.get("asked_by"))


@dataclass
class Checkpoint:
    """A CARL encoder checkpoint.

    ``model``: the encoder's state dict (CPU tensors); ``encoder``, ``sampling``, ``augment``,
    ``optim`` (the optimiser block, ``<dataset>.train.optim`` in conf), ``loss``: the settings,
    as plain dicts of their config classes; ``run``: the training run that made it (``id``,
    ``name``, ``folder``, ``identity``, ``namespaces``, ``asked_by``; empty for a released or
    untrained checkpoint); ``optimizer``, ``scaler``, ``rng``: only in the epoch checkpoints a
    run resumes from.
    """

    model: dict[str, torch.Tensor]
    encoder: dict[str, Any]
    sampling: dict[str, Any] = field(default_factory=dict)
    augment: dict[str, Any] = field(default_factory=dict)
    optim: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] = field(default_factory=lambda: {"algorithm": "scl"})
    backbone_init: str = "random init"
    epoch: int = 0
    step: int = 0
    skipped_steps: int = 0
    history: list[float] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)
    untrained: bool = False
    released_checkpoint: str | None = None  # the authors' file this was converted from, if any
    # How frames are framed for this model (carl_pipeline.augment.FRAMINGS), where its maker says
    # (an exported model); None: the embedding settings decide.
    framing: str | None = None
    optimizer: dict[str, Any] | None = None
    scaler: dict[str, Any] | None = None
    rng: dict[str, Any] | None = None
    # The supervised reference's frame classifier (a linear layer on the embedding), trained with
    # the encoder and not part of it; None for the self-supervised algorithms.
    head: dict[str, torch.Tensor] | None = None
    schema_version: int = SCHEMA_VERSION
    # Where it was read from (a file, "exported model"), for error messages; never saved.
    source: str | None = field(default=None, compare=False)

    @property
    def run_record(self) -> RunRecord:
        """``run`` read through attributes."""
        return RunRecord.from_dict(self.run)

    def to_dict(self) -> dict[str, Any]:
        """The on-disk form (the resume-only parts left out when absent)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}
        return {k: v for k, v in out.items() if v is not None or k not in ("optimizer", "scaler", "rng", "head")}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any], source: str = "checkpoint") -> Checkpoint:
        """Read the on-disk form; ``source`` names it in errors."""
        version = int(state.get("schema_version", 0))
        if version > SCHEMA_VERSION:
            raise ValueError(f"{source}: schema version {version} is newer than this code reads ({SCHEMA_VERSION}); "
                             f"update carl-pipeline")
        missing = [k for k in ("model", "encoder") if k not in state]
        if missing:
            raise ValueError(f"{source}: not a CARL encoder checkpoint (no {missing})")
        known = {f.name for f in fields(cls)}
        if version < 2 and "train" in state:  # the optimiser block's name before version 2
            state = {**{k: v for k, v in state.items() if k != "train"}, "optim": state["train"]}
        values = {k: v for k, v in state.items() if k in known and k != "source"}
        values["schema_version"] = SCHEMA_VERSION  # read and brought up to this version
        values["source"] = source
        return cls(**values)

    def encoder_config(self) -> EncoderConfig:
        """The architecture, with the weights coming from this checkpoint (no weights file is read)."""
        from carl_pipeline.models import EncoderConfig

        return EncoderConfig(**{**self.encoder, "backbone_weights": None})

    def weights_digest(self) -> str:
        """A digest of the encoder's weights (names, dtypes, shapes and values): what the scores
        in a ``metrics.json`` and an export must share to be of one model."""
        return weights_digest(self.model)

    @property
    def image_size(self) -> int | None:
        """The side of the training images, when known."""
        return self.augment.get("image_size")

    @property
    def algorithm(self) -> str:
        return self.loss.get("algorithm", "scl")

    def summary(self) -> dict[str, Any]:
        """Everything but the tensors (for logs, previews, trackers)."""
        left_out = ("model", "optimizer", "scaler", "rng", "head", "source")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in left_out}


def weights_digest(state: Mapping[str, torch.Tensor]) -> str:
    """BLAKE2b (16 bytes) of a state dict: every tensor's name, dtype, shape and bytes, by name."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{tensor.dtype}|{tuple(state[name].shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def read_checkpoint(obj: Checkpoint | Mapping[str, Any], source: str = "checkpoint") -> Checkpoint:
    """The one way code reads a checkpoint, whether it holds a ``Checkpoint`` or its dict form."""
    if isinstance(obj, Checkpoint):
        return obj
    return Checkpoint.from_dict(obj, source)


def load_encoder(checkpoint: Checkpoint | dict[str, Any], device: str = "cpu") -> CARLEncoder:
    """Rebuild the trained encoder from a checkpoint (a ``Checkpoint`` or its dict form; the
    weights are in it, so the backbone file is not read again)."""
    checkpoint = read_checkpoint(checkpoint)
    from carl_pipeline.models import CARLEncoder

    model = CARLEncoder(checkpoint.encoder_config())
    try:
        model.load_state_dict(checkpoint.model)
    except RuntimeError as error:  # torch's message lists every key; the first lines say enough
        detail = " ".join(line.strip() for line in str(error).splitlines()[1:4])
        raise ValueError(f"{checkpoint.source or 'the checkpoint'}: its weights do not fit the encoder settings "
                         f"stored with them ({detail[:400]}); the file was changed or written by other code") from None
    return model.to(device).eval()
