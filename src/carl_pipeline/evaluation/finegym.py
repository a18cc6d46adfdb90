"""FineGym: a linear classifier on frozen frame embeddings predicts each labelled frame's element."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch


def train_linear_probe(
    train_embeddings: Sequence[np.ndarray], train_labels: Sequence[np.ndarray], num_classes: int,
    *, epochs: int = 100, videos_per_batch: int = 10, lr: float = 50.0, momentum: float = 0.9,
    weight_decay: float = 1e-6, seed: int = 0,
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

    Returns:
        The trained layer ``D -> num_classes``.
    """
    videos = [(torch.tensor(np.asarray(e), dtype=torch.float32), torch.tensor(np.asarray(lab), dtype=torch.long))
              for e, lab in zip(train_embeddings, train_labels, strict=True)]
    videos = [(x[y >= 0], y[y >= 0]) for x, y in videos]
    videos = [v for v in videos if len(v[1])]
    if not videos:
        raise ValueError("no labelled training frame")
    dim = videos[0][0].shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layer = torch.nn.Linear(dim, num_classes)
    generator = torch.Generator().manual_seed(seed)
    batch = min(videos_per_batch, len(videos))
    optimizer = torch.optim.SGD(layer.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    for epoch in range(epochs):
        for group in optimizer.param_groups:
            group["lr"] = lr * (1 + math.cos(math.pi * epoch / epochs)) / 2
        order = torch.randperm(len(videos), generator=generator).tolist()
        for start in range(0, len(order) - batch + 1, batch):  # drop_last
            chosen = [videos[i] for i in order[start:start + batch]]
            x, y = torch.cat([c[0] for c in chosen]), torch.cat([c[1] for c in chosen])
            loss = torch.nn.functional.cross_entropy(layer(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return layer


def finegym_accuracy(
    train_embeddings: Sequence[np.ndarray], train_labels: Sequence[np.ndarray],
    val_embeddings: Sequence[np.ndarray], val_labels: Sequence[np.ndarray], num_classes: int,
    *, epochs: int = 100, videos_per_batch: int = 10, lr: float = 50.0, momentum: float = 0.9,
    weight_decay: float = 1e-6, seed: int = 0,
) -> float:
    """Per-frame validation accuracy of the linear probe (``train_linear_probe``) after its last
    epoch, over the labelled validation frames (as the released code reports it)."""
    layer = train_linear_probe(train_embeddings, train_labels, num_classes, epochs=epochs,
                               videos_per_batch=videos_per_batch, lr=lr, momentum=momentum,
                               weight_decay=weight_decay, seed=seed)
    x_val = torch.as_tensor(np.concatenate(val_embeddings), dtype=torch.float32)
    y_val = torch.as_tensor(np.concatenate(val_labels), dtype=torch.long)
    keep = y_val >= 0
    with torch.no_grad():
        predicted = layer(x_val[keep]).argmax(1)
    return float((predicted == y_val[keep]).float().mean())
