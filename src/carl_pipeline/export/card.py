"""The model card (``README.md``) of an exported encoder: what it is, how well it does against
the untrained encoder and the raw pixels, which run, data and code made it, and how to load it,
with the YAML header Hugging Face's model card guide asks for (``card_metadata``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


#: What each metric of the protocol is, for the card's model-index (Hugging Face's structured results).
METRIC_NAMES = {
    "classification": "phase classification accuracy, linear probe on {} of the training videos",
    "progression": "phase progression, R^2 of a linear regression",
    "kendalls_tau": "Kendall's tau of the alignment between validation videos",
    "ap": "fine-grained frame retrieval, average precision at {}",
    "accuracy": "element classification accuracy, the released linear probe on {} of the training events",
}

CITATION = """@inproceedings{chen2022framewise,
  title     = {Frame-wise Action Representations for Long Videos via Sequence Contrastive Learning},
  author    = {Chen, Minghao and Wei, Fangyun and Li, Chong and Cai, Deng},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  year      = {2022}
}"""


def metric_description(metric: str) -> str:
    """A readable name of a protocol metric (``classification@0.5``, ``ap@5``, ``gym99_accuracy@0.1``)."""
    base, _, at = metric.partition("@")
    if base.endswith("_accuracy"):
        return f"{base.split('_')[0]} " + METRIC_NAMES["accuracy"].format(f"{float(at or 1):.0%}")
    if base == "classification":
        return METRIC_NAMES["classification"].format(f"{float(at):.0%}")
    if base == "ap":
        return METRIC_NAMES["ap"].format(at)
    return METRIC_NAMES.get(base, metric)


def _model_index(name: str, dataset: str, scores: Mapping[str, Any]) -> list[dict[str, Any]]:
    metrics = [{"type": metric, "name": metric_description(metric), "value": round(float(value), 4)}
               for metric, value in scores.items() if isinstance(value, (int, float))]
    if not metrics:
        return []
    return [{"name": name, "results": [{
        "task": {"type": "feature-extraction", "name": "frame-wise video representation"},
        "dataset": {"name": dataset, "type": dataset, "split": "validation"},
        "metrics": metrics}]}]


def card_metadata(config: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML header: what Hugging Face's model card guide asks for."""
    dataset = config.get("dataset") or "unknown"
    trained = (config.get("scores") or {}).get("trained") or {}
    tags = ["video", "frame-wise-representation", "carl", "self-supervised", "action-recognition"]
    if config.get("synthetic_data"):
        tags.append("synthetic-data")
    header = {"license": "mit", "library_name": "carl-pipeline", "pipeline_tag": "feature-extraction", "tags": tags,
              "datasets": [dataset.split("_gym")[0]]}
    index = _model_index(f"carl-{dataset}", dataset, trained)
    if index:
        header["model-index"] = index
    return header


def _scores_table(scores: Mapping[str, Any]) -> str:
    """The scores as Markdown: this encoder, the untrained one and (when scored) the raw pixels."""
    trained, untrained = scores.get("trained") or {}, scores.get("untrained") or {}
    pixels = scores.get("pixels") or {}
    pixel_header, pixel_rule = (" raw pixels (32x32 grey) |", "---|") if pixels else ("", "")
    rows = "\n".join(f"| {metric} | {_number(trained.get(metric))} | {_number(untrained.get(metric))} |"
                     + (f" {_number(pixels.get(metric))} |" if pixels else "") for metric in trained)
    if not rows:
        return "No scores were recorded with this export."
    return ("| metric | this encoder | untrained encoder (same architecture, random weights) |" + pixel_header
            + "\n|---|---|---|" + pixel_rule + "\n" + rows)


SYNTHETIC_WARNING = ("\n> **Trained on synthetic data.** This encoder was trained on the demo's embedded synthetic "
                     "videos (carl_pipeline.synthetic), not on real footage: it shows the pipeline works, and is of "
                     "no use on real videos.\n")


def _usage(config: Mapping[str, Any], folder_hint: str) -> str:
    """The card's last sections: input, how to load it, its settings, the citation."""
    training, encoder = config.get("training") or {}, config.get("encoder") or {}
    settings = json.dumps({"encoder": encoder, "sampling": training.get("sampling"), "augment": training.get("augment"),
                           "loss": training.get("loss")}, indent=2, default=str)
    address = (config.get("code_version") or {}).get("repository")
    repository = address or "the one that exported it: no public address was recorded (its git remote 'origin')"
    return f"""## Input

Frames as RGB floats in [0, 1], framed to {config['input']['image_size']} x
{config['input']['image_size']} by `{config['input']['framing']}`
(`carl_pipeline.augment.eval_transform`); the encoder normalises them itself
(`input_norm: {config['input']['input_norm']}`). Shape `(B, T, 3, S, S)` -> `(B, T, D)`.

## How to load it

With carl-pipeline installed (`pip install -e .` in its repository, {repository}):

```python
from carl_pipeline.export import ExportedCARL, load_exported

module = ExportedCARL.from_pretrained("{folder_hint}")   # an nn.Module
checkpoint = load_exported("{folder_hint}")              # the project's Checkpoint
```

or on a folder of your videos:

```
kedro run --pipelines=videos --params="videos.model={folder_hint}"
```

## Settings

```json
{settings}
```

## Citation

```bibtex
{CITATION}
```
"""


def model_card(config: Mapping[str, Any], folder_hint: str = "path/to/this/folder") -> str:
    """Markdown with a Hugging Face YAML header, from an export's ``config.json`` content: the
    scores beside the untrained encoder and the raw pixels, as structured results too, how it
    was made (run, data, code version), intended uses and limitations, how to load it, the
    citation, and a warning when the training data were the embedded synthetic demo's."""
    import yaml

    run, training = config.get("run") or {}, config.get("training") or {}
    encoder, code = config.get("encoder") or {}, config.get("code_version") or {}
    dataset = config.get("dataset") or "unknown"
    synthetic = SYNTHETIC_WARNING if config.get("synthetic_data") else ""
    header = yaml.safe_dump(card_metadata(config), sort_keys=False, allow_unicode=True)
    return f"""---
{header}---

# CARL frame-wise video encoder ({dataset})
{synthetic}
A frame-wise action representation encoder trained with {training.get('algorithm', 'scl').upper()}
(CARL: Chen et al., "Frame-wise Action Representations for Long Videos via Sequence Contrastive
Learning", CVPR 2022), exported by carl-pipeline. It maps a video of `T` frames to `T`
embeddings of size {encoder.get('embedding_size')}.

## Intended uses and limitations

Use it to embed the frames of videos of the action it was trained on ({dataset}): to align two
videos in time, find the same moment in other videos, label phases from a few labelled videos, or
as features for a frame-level classifier. It knows only what its training videos showed: other
actions, viewpoints or camera set-ups may embed poorly, and it never saw labels (unless trained
as the supervised reference). Compare its scores with the untrained encoder's and the raw
pixels' below before relying on it.

## Scores ({dataset}, validation videos, the project's evaluation protocol)

{_scores_table(config.get("scores") or {})}

## How it was made

- Run: `{run.get('name')}` (id `{run.get('id')}`), {training.get('epoch')} epochs, final loss
  {_number(training.get('final_loss'))}; backbone {encoder.get('backbone')}, started from
  {training.get('backbone_init')}.
- Data fingerprint (the training videos' frames): `{config.get('data_fingerprint')}`
- Released checkpoint converted from: {config.get('released_checkpoint') or 'none'}
- Code: carl-pipeline {code.get('package') or 'unknown'}, git commit `{code.get('git_commit') or 'unknown'}`

{_usage(config, folder_hint)}"""
