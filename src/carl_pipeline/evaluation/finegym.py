"""FineGym: a linear classifier on frozen frame embeddings predicts each labelled frame's element."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def finegym_accuracy(
    train_embeddings: Sequence[np.ndarray], train_labels: Sequence[np.ndarray],
    val_embeddings: Sequence[np.ndarray], val_labels: Sequence[np.ndarray], num_classes: int,
    *, epochs: int = 100, videos_per_batch: int = 10, lr: float = 0.1, momentum: float = 0.9,
    weight_decay: float = 1e-6, seed: int = 0,
) -> float:
    """Per-frame validation accuracy of a linear layer trained on the labelled training frames.

    SGD with momentum 0.9, weight decay 1e-6 and a cosine schedule, ``epochs`` passes over the
    training videos in batches of ``videos_per_batch`` videos (CARL: 100 epochs, 10 videos).
    Frames labelled -1 are excluded from training and scoring.
    """
    generator = torch.Generator().manual_seed(seed)
    dim = np.asarray(train_embeddings[0]).shape[1]
    layer = torch.nn.Linear(dim, num_classes)
    torch.nn.init.zeros_(layer.bias)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(num_classes, dim, generator=generator) * 0.01)
    videos = [(torch.tensor(np.asarray(e), dtype=torch.float32), torch.tensor(np.asarray(lab), dtype=torch.long))
              for e, lab in zip(train_embeddings, train_labels, strict=True)]
    videos = [(x[y >= 0], y[y >= 0]) for x, y in videos]
    videos = [v for v in videos if len(v[1])]
    if not videos:
        raise ValueError("no labelled training frame")
    optimizer = torch.optim.SGD(layer.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    batches_per_epoch = -(-len(videos) // videos_per_batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * batches_per_epoch)
    for _ in range(epochs):
        order = torch.randperm(len(videos), generator=generator).tolist()
        for start in range(0, len(order), videos_per_batch):
            chosen = [videos[i] for i in order[start:start + videos_per_batch]]
            x, y = torch.cat([c[0] for c in chosen]), torch.cat([c[1] for c in chosen])
            loss = torch.nn.functional.cross_entropy(layer(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    x_val = torch.as_tensor(np.concatenate(val_embeddings), dtype=torch.float32)
    y_val = torch.as_tensor(np.concatenate(val_labels), dtype=torch.long)
    keep = y_val >= 0
    with torch.no_grad():
        predicted = layer(x_val[keep]).argmax(1)
    return float((predicted == y_val[keep]).float().mean())
