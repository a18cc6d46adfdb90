"""FineGym's linear probe against a transcription of the released ``evaluate_finegym.py`` loop."""

import inspect
import math

import numpy as np
import torch

from carl_pipeline.evaluation import EvalConfig, train_linear_probe


def _videos(count, seed, dim=8, classes=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))
    embeddings, labels = [], []
    for _ in range(count):
        length = int(rng.integers(10, 30))
        y = rng.integers(-1, classes, size=length)  # -1: unlabelled frames, left out
        x = centres[np.maximum(y, 0)] + 0.8 * rng.normal(size=(length, dim))
        embeddings.append((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32))  # L2-normalised
        labels.append(y)
    return embeddings, labels


def _released_probe(embeddings, labels, num_classes, seed, epochs, lr=50.0):
    """The loop of the released ``evaluate_once`` (one GPU), transcribed: ``FinegymEval`` keeps
    labelled frames, a DataLoader of 10 videos per batch, shuffled, ``drop_last=True``,
    ``LogisticRegression`` = ``nn.Linear``, SGD(lr, momentum 0.9, weight decay 1e-6), and the
    learning rate set to ``lr * (1 + cos(pi e / E)) / 2`` at the start of each epoch."""
    data = [(torch.tensor(x)[torch.tensor(y) >= 0].float(), torch.tensor(y)[torch.tensor(y) >= 0].long())
            for x, y in zip(embeddings, labels, strict=True)]
    generator = torch.Generator().manual_seed(seed)

    def loader():  # DataLoader(batch_size=10, shuffle=True, drop_last=True), its permutation seeded
        order = torch.randperm(len(data), generator=generator).tolist()
        for start in range(0, len(order) // 10 * 10, 10):
            batch = [data[i] for i in order[start:start + 10]]
            yield [b[0] for b in batch], [b[1] for b in batch]

    torch.manual_seed(seed)
    model = torch.nn.Linear(embeddings[0].shape[1], num_classes)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-6)
    for e in range(epochs):
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr * (1 + math.cos(math.pi * e / (1.0 * epochs))) / 2
        for embs, labs in loader():
            embs, labs = torch.cat(embs, dim=0), torch.cat(labs, dim=0)
            optimizer.zero_grad()
            loss = criterion(model(embs), labs)
            loss.backward()
            optimizer.step()
    return model


def test_linear_probe__defaults_are_the_released_settings():
    defaults = {k: v.default for k, v in inspect.signature(train_linear_probe).parameters.items()
                if v.default is not inspect.Parameter.empty}
    assert defaults["lr"] == 50.0 and defaults["momentum"] == 0.9 and defaults["weight_decay"] == 1e-6
    assert defaults["epochs"] == 100 and defaults["videos_per_batch"] == 10
    config = EvalConfig()
    assert (config.finegym_lr, config.finegym_epochs, config.finegym_videos_per_batch) == (50.0, 100, 10)


def test_linear_probe__trains_as_the_released_loop():
    """25 videos: two full batches of 10 per epoch and 5 videos dropped each epoch."""
    embeddings, labels = _videos(25, seed=0)
    ours = train_linear_probe(embeddings, labels, 4, epochs=7, seed=3)
    theirs = _released_probe(embeddings, labels, 4, seed=3, epochs=7)
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ours.bias, theirs.bias, rtol=1e-5, atol=1e-5)
    # and a lower learning rate gives other weights: the setting is used
    other = train_linear_probe(embeddings, labels, 4, epochs=7, seed=3, lr=0.1)
    assert not torch.allclose(other.weight, theirs.weight, atol=1e-3)


def test_finegym_fractions__the_released_subset_rule_and_one_score_per_fraction(monkeypatch):
    """Released evaluate_finegym.py: ``num_train = max(NUM_GPUS x 10, int(f x N))`` of the training
    files in their order, for f in EVAL.CLASSIFICATION_FRACTIONS (0.1, 0.5, 1.0)."""
    import pandas as pd

    from carl_pipeline.evaluation import evaluate_table
    from carl_pipeline.evaluation.protocol import finegym_subset_size

    assert [finegym_subset_size(f, 200) for f in (0.1, 0.5, 1.0)] == [20, 100, 200]
    assert [finegym_subset_size(f, 25) for f in (0.1, 0.5, 1.0)] == [10, 12, 25]  # at least a batch of 10
    assert finegym_subset_size(0.1, 4) == 4  # fewer videos than a batch: all of them
    rows = []
    for split, count, seed in (("train", 40, 0), ("val", 8, 1)):
        embeddings, labels = _videos(count, seed)
        for i, (x, y) in enumerate(zip(embeddings, labels, strict=True)):
            rows += [{"video_id": f"{split}{i:02d}", "split": split, "frame_index": t, "embedding": x[t],
                      "gym99": int(y[t])} for t in range(len(y))]
    table = pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # the table's row order does not matter
    config = EvalConfig(task="finegym", finegym_labels=("gym99",), finegym_epochs=5, num_classes={"gym99": 4})
    metrics = evaluate_table(table, config)
    assert list(metrics) == ["gym99_accuracy@0.1", "gym99_accuracy@0.5", "gym99_accuracy"]
    one = evaluate_table(table, EvalConfig(**{**config.__dict__, "fractions": (1.0,)}))
    assert one == {"gym99_accuracy": metrics["gym99_accuracy"]}

    from carl_pipeline.evaluation import protocol

    probed = []  # the first training videos by id, as many as the rule says; equal subsets once

    def recording(train_x, train_y, *args, **kwargs):
        probed.append([int(np.asarray(y).size) for y in train_y])
        return float(len(train_x))

    monkeypatch.setattr(protocol, "finegym_accuracy", recording)
    metrics = evaluate_table(table, config)
    assert metrics == {"gym99_accuracy@0.1": 10.0, "gym99_accuracy@0.5": 20.0, "gym99_accuracy": 40.0}
    lengths = [len(g) for _, g in table[table.split == "train"].groupby("video_id", sort=True)]
    assert probed == [lengths[:10], lengths[:20], lengths]
    evaluate_table(table[table.video_id.isin([f"train{i:02d}" for i in range(6)] + ["val00", "val01"])], config)
    assert len(probed) == 4  # 6 videos: every fraction is all of them, probed once
