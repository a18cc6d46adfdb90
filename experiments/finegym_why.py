"""Where a FineGym encoder loses what its frames know (issue 36, part 3). One call per trained model.

Reads a folder ``demo_learning.py --save`` wrote (the trained and untrained encoders' embedding
tables, each frame's backbone feature L2-normalised, the two checkpoints) and scores with the
protocol's own FineGym probe (``evaluation.finegym``):

- the embeddings, the backbone features (before the FC layers and the transformer) and the
  raw-pixel reference, over all labelled validation frames and by where a frame lies in its
  element (edges: the first and last 20%, where every element's pose is near the neutral
  stance; middle: 35-65%);
- the embeddings again with the position encoding zeroed, and with every frame embedded on its
  own (no temporal context): what the positions and the context add or cost.

Run: ``python experiments/demo_learning.py --dataset finegym_gym99 --save /tmp/s`` then
``python experiments/finegym_why.py /tmp/s --dataset finegym_gym99 [--data <ingested folder>]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]


def element_position(labels: np.ndarray) -> np.ndarray:
    """``(T,)`` each labelled frame's place in its run of one label, in (0, 1); NaN where -1 (the
    protocol's ``phase_coordinates`` without the label)."""
    from carl_pipeline.evaluation.protocol import phase_coordinates

    labels = np.asarray(labels)
    return np.where(labels >= 0, phase_coordinates(labels)[:, 0] - labels, np.nan)


def by_position(table: pd.DataFrame, label: str) -> dict[str, float]:
    """The protocol's probe, trained on the training videos, scored on the validation frames:
    all of them, the elements' edges and their middles."""
    from carl_pipeline.embedding.table import per_video
    from carl_pipeline.evaluation.finegym import train_linear_probe

    _, train_embeddings, train_labels = per_video(table, label, "train")
    layer = train_linear_probe(train_embeddings, train_labels, int(table[label].max()) + 1)
    correct, where = [], []
    with torch.no_grad():
        for embeddings, labels in zip(*per_video(table, label, "val")[1:], strict=True):
            keep = labels >= 0
            predicted = layer(torch.from_numpy(np.asarray(embeddings, np.float32))).argmax(1).numpy()
            correct.append((predicted == labels)[keep])
            where.append(element_position(labels)[keep])
    correct, where = np.concatenate(correct), np.concatenate(where)
    edges, middle = (where < 0.2) | (where > 0.8), (where > 0.35) & (where < 0.65)
    return {"all": correct.mean(), "edges": correct[edges].mean(), "middle": correct[middle].mean()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("save", type=Path, help="a folder demo_learning.py --save wrote")
    parser.add_argument("--dataset", default="finegym_gym99")
    parser.add_argument("--data", type=Path, default=ROOT / "data/03_primary/finegym", help="the ingested FineGym folder")
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args(argv)
    import carl_pipeline.models.encoder as encoder_module
    from carl_pipeline.augment import eval_transform
    from carl_pipeline.embedding import embeddings_table, extract_embeddings
    from carl_pipeline.embedding.pixels import pixel_embeddings
    from carl_pipeline.embedding.table import read_embeddings_table
    from carl_pipeline.training import load_encoder
    from carl_pipeline.video.frame_store import FrameStore

    label = args.dataset.rsplit("_", 1)[-1]
    index = pd.read_parquet(args.data / "video_index.parquet")
    labels = pd.read_parquet(args.data / "frame_labels.parquet")
    store = FrameStore(args.data / "frames")
    video_ids = index["video_id"].tolist()
    tables = {f"{what} {who}": read_embeddings_table(args.save / f"{prefix}_{who}.parquet")
              for who in ("trained", "untrained")
              for what, prefix in (("embeddings", "embeddings"), ("backbone features", "backbone"))}
    tables["raw pixels"] = embeddings_table(pixel_embeddings(store, video_ids, args.image_size, "resize_crop", 32,
                                                             progress=False), index, labels)
    checkpoints = torch.load(args.save / "checkpoints.pt", weights_only=False)
    zero = lambda steps, dim, train_length=None: torch.zeros(steps, dim)  # noqa: E731
    original = encoder_module.sincos_position_encoding
    try:
        for who, checkpoint in checkpoints.items():
            encoder_module.sincos_position_encoding = zero
            model = load_encoder(checkpoint).eval()
            tables[f"embeddings {who}, positions zeroed"] = embeddings_table(
                extract_embeddings(model, store, video_ids, args.image_size, device="cpu", progress=False),
                index, labels)
            alone = {}
            with torch.inference_mode():
                for video_id in video_ids:
                    pack = store.open(video_id)
                    features = model.backbone_features(eval_transform(pack.read(np.arange(len(pack))),
                                                                      args.image_size)[None])
                    alone[video_id] = model.embed_features(features.transpose(0, 1))[:, 0].numpy()  # T sequences of 1
            tables[f"embeddings {who}, each frame alone"] = embeddings_table(alone, index, labels)
    finally:
        encoder_module.sincos_position_encoding = original
    print(f"{'what the probe reads (' + label + ')':<48}{'all':>7}{'edges':>8}{'middle':>8}")
    for name, table in tables.items():
        scores = by_position(table, label)
        print(f"{name:<48}{scores['all']:>7.3f}{scores['edges']:>8.3f}{scores['middle']:>8.3f}")


if __name__ == "__main__":
    main()
