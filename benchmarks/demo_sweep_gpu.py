"""Many demo trainings in one go on a GPU: which settings make CARL beat the untrained encoder?

The demo's settings (``conf/base/globals.yml``, ``train`` and ``evaluate``) with the changes of
each named experiment, trained from scratch on the ingested Pouring demo
(``data/03_primary/pouring``) and scored against the same architecture untrained, as
``demo_learning.py`` does on the CPU, without Kedro or pydantic (so it runs on a bare GPU machine:
``PYTHONPATH=src python benchmarks/demo_sweep_gpu.py``; ``--only NAME`` runs one experiment).
GPU numbers differ from the CPU's in the last digits (another device, other kernels); read them
for direction. Results: ``$OUT/demo_sweep.json`` (or ``benchmarks/out/``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from carl_pipeline.augment import AugmentConfig
from carl_pipeline.embedding import embeddings_table, extract_embeddings, untrained_checkpoint
from carl_pipeline.evaluation import EvalConfig, evaluate_table
from carl_pipeline.losses import LossConfig
from carl_pipeline.models import EncoderConfig
from carl_pipeline.training import (
    PretrainConfig,
    RunDir,
    SamplingConfig,
    TrainConfig,
    load_encoder,
    pretrain_backbone,
    train,
)
from carl_pipeline.video import FrameStore

ROOT = Path(__file__).resolve().parents[1]

EXPERIMENTS: dict[str, dict] = {
    "demo": {},
    "lr1e-4": {"optim": {"lr": 1e-4}},
    "lr1e-4_video": {"optim": {"lr": 1e-4}, "sampling": {"window": "video"}},
    "img128": {"augment": {"image_size": 128}},
    "img160": {"augment": {"image_size": 160}},
    "img128_lr1e-4_video": {"augment": {"image_size": 128}, "optim": {"lr": 1e-4}, "sampling": {"window": "video"}},
    "epochs100": {"optim": {"epochs": 100}},
    "epochs100_lr1e-4_video": {"optim": {"epochs": 100, "lr": 1e-4}, "sampling": {"window": "video"}},
    "epochs100_img128_lr1e-4_video": {"augment": {"image_size": 128}, "optim": {"epochs": 100, "lr": 1e-4},
                                      "sampling": {"window": "video"}},
    "T64_video": {"sampling": {"num_steps": 64, "window": "video"}},
    "crop0.4": {"augment": {"crop_scale": [0.4, 1.0]}},
    "frozen_layer2_img128": {"model": {"freeze_through": "layer2"}, "augment": {"image_size": 128}},
    "simclr40_frozen_layer2": {"pretrain": {"epochs": 40}, "model": {"freeze_through": "layer2"}},
    "simclr40_frozen_layer3_img128": {"pretrain": {"epochs": 40}, "model": {"freeze_through": "layer3"},
                                      "augment": {"image_size": 128}},
    "resnet34": {"model": {"backbone": "resnet34"}},
    "no_layers": {"model": {"num_layers": 0}},
}


def _merge(base: dict, change: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in change.items():
        out[key] = _merge(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def run(name: str, change: dict, store: FrameStore, index: pd.DataFrame, labels: pd.DataFrame, settings: dict,
        work: Path, device: str) -> dict:
    train_block = _merge(settings["train"], change)
    sampling = SamplingConfig(**train_block["sampling"])
    encoder = EncoderConfig(**{**train_block["model"], "train_length": sampling.num_steps})
    augment = AugmentConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in train_block["augment"].items()})
    optim = TrainConfig(**{**train_block["optim"], "progress": False, "precision": "fp32"})
    loss = LossConfig(**train_block["loss"])
    pretrain = PretrainConfig(**{**train_block["pretrain"], "progress": False})
    ids = index.loc[index["split"].isin(train_block["splits"]), "video_id"].tolist()
    started = time.perf_counter()
    pretrained = pretrain_backbone(str(store.root), ids, encoder.backbone, augment, pretrain, device=device)
    model = train(str(store.root), ids, encoder, sampling, augment, optim, RunDir(work / name), device=device,
                  loss_config=loss, backbone_state=pretrained["state_dict"] or None)
    seconds = time.perf_counter() - started
    protocol = EvalConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in settings["evaluate"]["protocol"].items()})
    scores = {}
    for which, checkpoint in (("trained", model), ("untrained", untrained_checkpoint(model, 0))):
        embeddings = extract_embeddings(load_encoder(checkpoint), store, index["video_id"].tolist(), augment.image_size,
                                        device=device, progress=False)
        scores[which] = {k: round(v, 3) for k, v in evaluate_table(embeddings_table(embeddings, index, labels), protocol).items()}
    return {"experiment": name, "change": change, "seconds": round(seconds, 1), "final_loss": model.history[-1], **scores}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append")
    parser.add_argument("--data", type=Path, default=ROOT / "data/03_primary/pouring")
    parser.add_argument("--smoke", action="store_true", help="one epoch each, to check the script")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    settings = yaml.safe_load((ROOT / "conf/base/globals.yml").read_text())
    store = FrameStore(args.data / "frames")
    index = pd.read_parquet(args.data / "video_index.parquet")
    labels = pd.read_parquet(args.data / "frame_labels.parquet")
    out_dir = Path(os.environ.get("OUT") or Path(__file__).parent / "out")
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    work = Path(tempfile.mkdtemp(prefix="demo_sweep_"))  # fresh run folders: never resume another sweep
    for name, change in EXPERIMENTS.items():
        if args.only and name not in args.only:
            continue
        if args.smoke:
            change = _merge(change, {"optim": {"epochs": 1}, "pretrain": {"epochs": min(1, change.get("pretrain", {}).get("epochs", 0))}})
        result = run(name, change, store, index, labels, settings, work, device)
        results.append(result)
        t, u = result["trained"], result["untrained"]
        print(f"{name:<34} {result['seconds']:>6.1f}s " + " ".join(
            f"{k.replace('classification', 'cls')}={t[k]:.3f}/{u[k]:.3f}" for k in
            ("classification@0.1", "classification@1.0", "ap@5", "progression", "kendalls_tau")), flush=True)
        (out_dir / "demo_sweep.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
