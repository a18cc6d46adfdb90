"""FineGym: a linear classifier on frozen frame embeddings predicts each labelled frame's element."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch


def train_linear_probe(
    train_embeddings: Sequence[np.ndarray], train_labels: Sequence[np.ndarray], num_classes: int,
    *, epochs: int = 100, videos_per_batch: int = 10, lr: float = 50.0, momentum: float = 0.9,
    weight_decay: float = 1e-6, seed: int = 0, device: str | torch.device = "cpu",
) -> torch.nn.Linear:
    """FineGym's linear probe on frozen frame embeddings, as the released ``evaluate_finegym.py``
    trains it (``LogisticRegression``).

    - a ``torch.nn.Linear`` with PyTorch's default initialisation (drawn after seeding ``seed``);
    - SGD, ``lr`` 50 (``EVAL.CLASSIFICATION_LR``; the embeddings are L2-normalised), momentum 0.9,
      weight decay 1e-6; learning rate ``lr * (1 + cos(pi e / epochs)) / 2`` set at the start of
      epoch ``e`` (a per-epoch cosine, not per step);
    - every epoch the training videos are shuffled and cut into batches of ``videos_per_batch``
      videos, the last incomplete batch dropped (``drop_last=True``); the frames of a batch are
      concatenated and the loss is the cross-entropy averaged over them. Frames labelled -1 are
      left out (``FinegymEval`` keeps ``labels >= 0``).

    One departure, for small sets: with fewer training videos than ``videos_per_batch`` the batch
    is all of them (the released code would train on nothing).

    Args:
        train_embeddings: per video ``(num_frames, D)``.
        train_labels: per video ``(num_frames,)`` int, -1 where unlabelled.
        device: where the probe trains (the evaluation's device); each batch is moved there, so
            the embeddings stay where they are (at FineGym's real size, gigabytes in host memory).

    Returns:
        The trained layer ``D -> num_classes`` (on ``device``).
    """
    videos = [_labelled_frames(e, lab) for e, lab in zip(train_embeddings, train_labels, strict=True)]
    videos = [v for v in videos if len(v[1])]
    if not videos:
        raise ValueError("no labelled training frame")
    dim = videos[0][0].shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = torch.nn.Linear(dim, num_classes)  # drawn on the CPU: the same weights on every device
    layer = layer.to(device)
    generator = torch.Generator().manual_seed(seed)
    batch = min(videos_per_batch, len(videos))
    optimizer = torch.optim.SGD(layer.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = lr * (1 + math.cos(math.pi * epoch / epochs)) / 2
        order = torch.randperm(len(videos), generator=generator).tolist()
        for start in range(0, len(order) - batch + 1, batch):  # drop_last
            chosen = [videos[i] for i in order[start:start + batch]]
            x, y = torch.cat([c[0] for c in chosen]).to(device), torch.cat([c[1] for c in chosen]).to(device)
            loss = torch.nn.functional.cross_entropy(layer(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return layer


def _labelled_frames(embeddings: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, D)`` float32 and ``(N,)`` long of the frames labelled >= 0 (no copy when all are)."""
    with warnings.catch_warnings():  # read-only views of the table's columns: never written to
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        x = torch.from_numpy(np.ascontiguousarray(embeddings, dtype=np.float32))
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    keep = y >= 0
    return (x, y) if bool(keep.all()) else (x[keep], y[keep])


def finegym_accuracy(
    train_embeddings: Sequence[np.ndarray], train_labels: Sequence[np.ndarray],
    val_embeddings: Sequence[np.ndarray], val_labels: Sequence[np.ndarray], num_classes: int,
    *, epochs: int = 100, videos_per_batch: int = 10, lr: float = 50.0, momentum: float = 0.9,
    weight_decay: float = 1e-6, seed: int = 0, device: str | torch.device = "cpu",
) -> float:
    """Per-frame validation accuracy of the linear probe (``train_linear_probe``) after its last
    epoch, over the labelled validation frames (as the released code reports it)."""
    layer = train_linear_probe(train_embeddings, train_labels, num_classes, epochs=epochs,
                               videos_per_batch=videos_per_batch, lr=lr, momentum=momentum,
                               weight_decay=weight_decay, seed=seed, device=device)
    correct = total = 0
    with torch.no_grad():  # video by video: no second copy of the validation embeddings
        for embeddings, labels in zip(val_embeddings, val_labels, strict=True):
            x, y = _labelled_frames(embeddings, labels)
            if len(y):
                correct += int((layer(x.to(device)).argmax(1) == y.to(device)).sum())
                total += len(y)
    return correct / total if total else float("nan")
