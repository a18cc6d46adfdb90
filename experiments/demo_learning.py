"""Does CARL training beat the untrained encoder on the demo data? One experiment per call.

Trains an encoder with the demo's parameters (``conf/base``) changed by ``--set key=value``
(dotted keys under the dataset's block, e.g. ``train.optim.epochs=10``), in a fresh run folder
(never resuming an earlier experiment), embeds every frame with it and with the same
architecture untrained, scores both with the dataset's protocol, and prints both side by side
with their difference, plus one JSON line for ``experiments/LOG.md``.

Needs the ingested demo data (``kedro run --pipelines=ingest_<dataset>``).
Run: ``python experiments/demo_learning.py --dataset pouring --set train.sampling.window=video``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _nested(assignments: list[str], dataset: str) -> dict:
    """``["train.optim.epochs=10"]`` -> ``{dataset: {"train": {"optim": {"epochs": 10}}}}``."""
    out: dict = {}
    for assignment in assignments:
        key, _, value = assignment.partition("=")
        node = out.setdefault(dataset, {})
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return out


def backbone_features(checkpoint: dict, store, index: pd.DataFrame, image_size: int) -> dict:
    """``{video_id: (num_frames, C)}``: each frame's max-pooled backbone feature (no transformer,
    no positions)."""
    import numpy as np
    import torch

    from carl_pipeline.augment import eval_transform
    from carl_pipeline.training import load_encoder

    model = load_encoder(checkpoint)
    features = {}
    with torch.inference_mode():
        for video_id in index["video_id"]:
            pack = store.open(video_id)
            frames = eval_transform(pack.read(np.arange(len(pack))), image_size)[None]
            features[video_id] = model.backbone_features(frames)[0].numpy()
    return features


def backbone_probe(features: dict, index: pd.DataFrame, labels: pd.DataFrame, label: str = "phase") -> float:
    """Phase accuracy on the validation frames of a logistic regression fitted on the training
    frames' max-pooled backbone features (``backbone_features``; no transformer, no positions):
    what the frame features alone know about the phase, across videos."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    by_frame = labels.set_index(["video_id", "frame_index"])[label]

    def split(name):
        ids = index.loc[index["split"] == name, "video_id"]
        x = np.concatenate([features[v] for v in ids])
        y = np.concatenate([by_frame.loc[v].sort_index().to_numpy() for v in ids])
        return x, y

    (train_x, train_y), (val_x, val_y) = split("train"), split("val")
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    classifier = LogisticRegression(max_iter=2000).fit((train_x - mean) / std, train_y)
    return float(classifier.score((val_x - mean) / std, val_y))


def run(dataset: str, assignments: list[str], env: str | None = None, project: Path = ROOT,
        data: Path | None = None, save: Path | None = None) -> dict:
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from carl_pipeline.embedding import embed_videos, untrained_checkpoint
    from carl_pipeline.evaluation.report import evaluation_report, pixel_reference_scores
    from carl_pipeline.training import RunDir, pretrain_backbone, train
    from carl_pipeline.training.videos import backbone_start, label_arrays, training_videos

    bootstrap_project(project)
    with KedroSession.create(project_path=project, env=env, runtime_params=_nested(assignments, dataset)) as session:
        context = session.load_context()
        params = context.params[dataset]
        source = dataset.split("_gym", maxsplit=1)[0]  # finegym_gym99 reads finegym's ingestion
        catalog = context.catalog
        store = catalog.load(f"{source}.frame_store")
        index: pd.DataFrame = catalog.load(f"{source}.video_index")
        labels: pd.DataFrame = catalog.load(f"{source}.frame_labels")
    if data is not None:  # another ingested dataset: frames/, video_index.parquet, frame_labels.parquet
        from carl_pipeline.video.frame_store import FrameStore

        store = FrameStore(data / "frames")
        index, labels = pd.read_parquet(data / "video_index.parquet"), pd.read_parquet(data / "frame_labels.parquet")
    started = time.perf_counter()
    settings, evaluate = params["train"], params["evaluate"]
    video_ids = training_videos(index, labels, settings.splits, settings.labelled_by)
    pretrained = pretrain_backbone(str(store.root), video_ids, settings.model.backbone, settings.augment,
                                   settings.pretrain, device=settings.optim.device, input_norm=settings.model.input_norm)
    state, init = backbone_start(pretrained, settings.model.backbone)
    with tempfile.TemporaryDirectory() as folder:
        model = train(str(store.root), video_ids, settings.settings(), RunDir(Path(folder) / "run"),
                      backbone_state=state, backbone_init=init,
                      labels=label_arrays(labels, video_ids, settings.loss.label) if settings.loss.uses_labels else None)
    trained_seconds = time.perf_counter() - started
    untrained = untrained_checkpoint(model, evaluate.untrained_seed)
    tables = [embed_videos(m, store, index, labels, evaluate) for m in (model, untrained)]
    metrics = evaluation_report(*tables, model, evaluate.protocol, precision=evaluate.precision, device=evaluate.device,
                                pixel_scores=pixel_reference_scores(model, store, index, labels, evaluate))
    size = params["evaluate"].image_size or model.image_size
    # each encoder's backbone features (before the transformer and its positions), computed once
    # for whichever of the saved tables and the phase probe wants them
    checkpoints = {"trained": model, "untrained": untrained}
    features = ({name: backbone_features(checkpoint, store, index, size) for name, checkpoint in checkpoints.items()}
                if save is not None or "phase" in labels.columns else {})
    if save is not None:  # the embeddings, to look into
        import numpy as np
        import torch

        from carl_pipeline.embedding import embeddings_table

        save.mkdir(parents=True, exist_ok=True)
        for name, table in zip(("trained", "untrained"), tables, strict=True):
            table.to_parquet(save / f"embeddings_{name}.parquet")
        torch.save(checkpoints, save / "checkpoints.pt")  # Checkpoint objects
        # and each frame's backbone feature, L2-normalised as the embeddings are: to score with
        # the same protocol
        for name, per_video in features.items():
            normalised = {v: f / np.linalg.norm(f, axis=1, keepdims=True).clip(1e-12) for v, f in per_video.items()}
            embeddings_table(normalised, index, labels).to_parquet(save / f"backbone_{name}.parquet")
    if "phase" in labels.columns:
        for name in checkpoints:
            metrics[name]["backbone_probe"] = backbone_probe(features[name], index, labels)
        if pretrained["state_dict"]:  # the backbone as pretraining left it, before CARL
            from carl_pipeline.models import CARLEncoder

            start = replace(untrained, model=CARLEncoder(params["train"].model, pretrained["state_dict"]).state_dict())
            metrics["trained"]["pretrained_backbone_probe"] = backbone_probe(
                backbone_features(start, store, index, size), index, labels)
            metrics["untrained"]["pretrained_backbone_probe"] = metrics["untrained"]["backbone_probe"]
    return {"dataset": dataset, "set": assignments, "train_seconds": round(trained_seconds, 1),
            "final_loss": metrics["model"]["final_loss"],
            "trained": {k: round(v, 3) for k, v in metrics["trained"].items()},
            "untrained": {k: round(v, 3) for k, v in metrics["untrained"].items()},
            "pixels": {k: round(v, 3) for k, v in metrics.get("pixels", {}).items()},
            # Kendall's tau's frame pairs: in order, out of order (errors), tied (many-to-one)
            "alignment": {who: {k: round(v, 4) for k, v in parts.items()}
                          for who, parts in metrics.get("alignment", {}).items()},
            "labels_kendalls_tau": round(metrics["labels"]["kendalls_tau"], 3) if "labels" in metrics else None}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="pouring")
    parser.add_argument("--set", action="append", default=[], help="dotted key=value under the dataset's block")
    parser.add_argument("--env", default=None)
    parser.add_argument("--project", type=Path, default=ROOT, help="another copy of the project (other demo data)")
    parser.add_argument("--data", type=Path, default=None,
                        help="an ingested dataset folder (frames/, video_index.parquet, frame_labels.parquet) to use "
                             "instead of the catalog's")
    parser.add_argument("--save", type=Path, default=None, help="folder to write both embedding tables to")
    args = parser.parse_args(argv)
    result = run(args.dataset, args.set, args.env, args.project, args.data, args.save)
    print(f"{args.dataset} {' '.join(args.set) or '(demo settings)'}: trained in {result['train_seconds']} s, "
          f"final loss {result['final_loss']:.3f}")
    print(f"{'metric':<22}{'trained':>9}{'untrained':>11}{'diff':>8}{'pixels':>8}")
    for key, value in result["trained"].items():
        base, pixels = result["untrained"][key], result["pixels"].get(key, float("nan"))
        print(f"{key:<22}{value:>9.3f}{base:>11.3f}{value - base:>+8.3f}{pixels:>8.3f}")
    for who, parts in result["alignment"].items():
        print(f"tau's frame pairs, {who:<9}: " + ", ".join(f"{k} {v:.4f}" for k, v in parts.items()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
