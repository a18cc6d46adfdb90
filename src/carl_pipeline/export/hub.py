"""A trained encoder as a folder anyone can load: ``model.safetensors``, ``config.json`` and a
model card (``README.md``), in the Hugging Face Hub's layout (``PyTorchModelHubMixin``), saved
and loaded locally without a network (nothing here uploads).

``config.json`` holds everything needed to rebuild and feed the encoder: the architecture
(``encoder``, ``input_norm`` in it), the input (``input``: image side, framing), the settings
it was trained with, its run identity and data fingerprint, and its scores.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from carl_pipeline.atomic import atomic_folder
from carl_pipeline.models import CARLEncoder, EncoderConfig
from carl_pipeline.record import Checkpoint, read_checkpoint

#: What ``config.json`` says it is, and the version of its layout.
FORMAT = "carl-pipeline-export"
FORMAT_VERSION = 1
REQUIRED_FILES = ("config.json", "model.safetensors")


class ExportedCARL(nn.Module, PyTorchModelHubMixin, library_name="carl-pipeline",
                   tags=["video", "frame-wise-representation", "carl", "self-supervised"]):
    """A CARL encoder built from an exported ``config`` (``config.json``).

    ``ExportedCARL.from_pretrained(folder)`` rebuilds it with its weights; ``forward`` takes
    ``(B, T, 3, S, S)`` frames in [0, 1] (framed as ``config["input"]`` says) and returns
    ``(B, T, D)`` frame embeddings.
    """

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        if config.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} config (format {config.get('format')!r})")
        self.config = config
        self.encoder = CARLEncoder(EncoderConfig(**{**config["encoder"], "backbone_weights": None}))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.encoder(frames)


@dataclass
class ExportedModel:
    """What an export writes: the checkpoint, the extra config (scores, input, provenance) and
    the model card's text."""

    checkpoint: Checkpoint
    config: dict[str, Any]
    card: str


def code_version() -> dict[str, Any]:
    """The code that exports: the package version and, in a git checkout, its commit (with
    ``dirty`` when files differ from it) and the address of its ``origin`` remote (``repository``,
    any credentials in it removed); None where git, the repository or the remote is not there."""
    import subprocess

    import carl_pipeline

    version: dict[str, Any] = {"package": carl_pipeline.__version__, "git_commit": None, "dirty": None,
                               "repository": None}
    root = Path(carl_pipeline.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
        remote = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"], capture_output=True,
                                text=True, timeout=10, check=False).stdout.strip()  # none: empty
    except (OSError, subprocess.SubprocessError):
        return version
    return {**version, "git_commit": commit, "dirty": bool(status.strip()), "repository": public_address(remote)}


def public_address(remote: str) -> str | None:
    """A git remote's address without credentials (``https://user:token@host/x`` -> ``https://host/x``;
    ``git@host:owner/name.git`` -> ``https://host/owner/name``); None for an empty or local one."""
    import re

    remote = remote.strip()
    if not remote or remote.startswith(("/", "file:", ".")):
        return None
    scp = re.fullmatch(r"[\w.-]+@([\w.-]+):(.+?)(?:\.git)?", remote)
    if scp:
        return f"https://{scp.group(1)}/{scp.group(2)}"
    return re.sub(r"^(\w+://)[^/@]*@", r"\1", remote).removesuffix(".git")


def export_config(checkpoint: Checkpoint, framing: str, scores: Mapping[str, Any] | None = None,
                  dataset: str | None = None, synthetic_data: bool = False) -> dict[str, Any]:
    """``config.json`` of ``checkpoint``: the architecture, how to feed it, how it was made (the
    run, its data, the code version, and whether the data were the demo's synthetic videos)."""
    run = checkpoint.run_record
    identity = dict(run.identity or {})
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "encoder": {**checkpoint.encoder, "backbone_weights": None},
        # frames in [0, 1], RGB, framed to a square of image_size (carl_pipeline.augment.eval_transform);
        # the encoder normalises them itself (encoder.input_norm)
        "input": {"image_size": checkpoint.image_size, "framing": framing, "channels": "RGB", "range": [0.0, 1.0],
                  "input_norm": checkpoint.encoder.get("input_norm", "none")},
        "training": {"algorithm": checkpoint.algorithm, "epoch": checkpoint.epoch, "step": checkpoint.step,
                     "final_loss": checkpoint.history[-1] if checkpoint.history else None,
                     "backbone_init": checkpoint.backbone_init, "sampling": checkpoint.sampling,
                     "augment": checkpoint.augment, "optim": checkpoint.optim, "loss": checkpoint.loss,
                     "history": list(checkpoint.history)},
        "run": {"id": run.id, "name": run.name, "identity": identity, "namespaces": list(run.namespaces)},
        "data_fingerprint": identity.get("data"),
        "released_checkpoint": checkpoint.released_checkpoint,
        "dataset": dataset,
        "synthetic_data": bool(synthetic_data),
        "code_version": code_version(),
        "scores": dict(scores or {}),
    }


class ExportMismatchError(ValueError):
    """Scores that are not of the model being exported; the message names both and what to run."""


def check_scores_are_of(checkpoint: Checkpoint, metrics: Mapping[str, Any], metrics_name: str = "metrics.json",
                        rerun: str = "the evaluation") -> None:
    """Refuse to carry ``metrics`` with ``checkpoint`` unless they scored its weights: the
    weights digest the evaluation recorded (``metrics["model"]["weights"]``) must be the
    checkpoint's; a ``metrics.json`` written before digests were recorded must name the same
    run and epoch.

    Raises:
        ExportMismatchError: naming the run and weights each side is of, and ``rerun``.
    """
    scored = metrics.get("model") or {}
    ours = checkpoint.weights_digest()
    run, epoch = checkpoint.run_record.name, checkpoint.epoch
    if "weights" in scored:
        if scored["weights"] == ours:
            return
        what = f"weights {str(scored['weights'])[:12]}, the model to export weights {ours[:12]}"
    else:  # written before the digest was recorded (carl_pipeline.compat: goes with TRAINED_BEFORE)
        if run is not None and scored.get("run") == run and scored.get("epochs") == epoch:
            return
        what = "no weights digest (an older evaluation) and another run or epoch"
    raise ExportMismatchError(
        f"{metrics_name} holds the scores of run {scored.get('run')} (epoch {scored.get('epochs')}), but the model "
        f"to export is run {run} (epoch {epoch}) ({what}): its scores would be another model's. Evaluate this "
        f"model first ({rerun}), then export")


def export_model(model: Checkpoint | Mapping[str, Any], metrics: Mapping[str, Any], framing: str, dataset: str,
                 synthetic_data: bool = False) -> ExportedModel:
    """The trained encoder with a ``config.json`` (architecture, input framing and size, run
    identity, data fingerprint, scores) and a model card of its scores against the untrained
    encoder (and the raw pixels).

    Args:
        model: the trained checkpoint.
        metrics: the dataset's evaluation (``trained`` and ``untrained`` scores) of this model.
        framing: how the model's users should frame frames (the dataset's evaluation's).
        dataset: the namespace, named in the card.
        synthetic_data: trained on the demo's generated videos: a warning on the card.

    Raises:
        ExportMismatchError: ``metrics`` scored other weights than ``model`` (a newer model that
            was not evaluated yet): the scores would be another model's.
    """
    from carl_pipeline.export.card import model_card

    checkpoint = read_checkpoint(model)
    check_scores_are_of(checkpoint, metrics, f"{dataset}.metrics", f"kedro run --pipelines=evaluate_{dataset}")
    scores = {"trained": metrics.get("trained", {}), "untrained": metrics.get("untrained", {}),
              **({"pixels": metrics["pixels"]} if metrics.get("pixels") else {})}
    config = export_config(checkpoint, framing, scores, dataset, synthetic_data=synthetic_data)
    return ExportedModel(checkpoint, config, model_card(config, f"data/06_models/{dataset}/exported"))


def save_exported(exported: ExportedModel, folder: str | os.PathLike) -> Path:
    """Write the export to ``folder`` whole or not at all (``carl_pipeline.atomic.atomic_folder``:
    an earlier export there is replaced only once the new one is complete)."""
    folder = Path(folder)
    with atomic_folder(folder) as staging:
        (staging / "README.md").write_text(exported.card)  # the mixin keeps a card that is there
        module = ExportedCARL(exported.config)
        module.encoder.load_state_dict(exported.checkpoint.model)
        module.save_pretrained(staging)
    return folder


def is_exported(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds an export (``config.json`` of this format and the weights)."""
    folder = Path(folder)
    if not all((folder / name).is_file() for name in REQUIRED_FILES):
        return False
    try:
        return json.loads((folder / "config.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def load_exported(folder: str | os.PathLike) -> Checkpoint:
    """An exported model back as this project's ``Checkpoint`` (what ``load_encoder``, the
    evaluation and ``videos.model`` read), in one call.

    Raises:
        ValueError: ``folder`` is not an export (naming what is missing).
    """
    folder = Path(folder)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{folder}: not an exported model (no {', '.join(missing)})")
    try:
        module = ExportedCARL.from_pretrained(folder, local_files_only=True)
    except Exception as error:
        raise ValueError(f"{folder}: the exported model does not load ({type(error).__name__}: {error})") from error
    return checkpoint_of(module)


def checkpoint_of(module: ExportedCARL) -> Checkpoint:
    """The ``Checkpoint`` of a loaded ``ExportedCARL``."""
    config = module.config
    training = config.get("training", {})
    run = dict(config.get("run") or {})
    return read_checkpoint({
        "model": {k: v.detach().cpu() for k, v in module.encoder.state_dict().items()},
        "encoder": config["encoder"], "augment": training.get("augment") or {"image_size": config["input"]["image_size"]},
        "sampling": training.get("sampling", {}), "optim": training.get("optim", {}),
        "loss": training.get("loss") or {"algorithm": training.get("algorithm", "scl")},
        "backbone_init": training.get("backbone_init", "random init"), "epoch": training.get("epoch", 0),
        "step": training.get("step", 0), "history": training.get("history", []),
        "run": {k: run.get(k) for k in ("id", "name", "identity", "namespaces")},
        "released_checkpoint": config.get("released_checkpoint"),
        "framing": config["input"].get("framing"),
    }, "exported model")
