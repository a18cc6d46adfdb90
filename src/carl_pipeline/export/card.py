"""The model card (``README.md``) of an exported encoder: what it is, how well it does against
the untrained encoder, which run and data made it, and how to load it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def model_card(config: Mapping[str, Any], folder_hint: str = "path/to/this/folder") -> str:
    """Markdown with a Hub-style YAML header, from an export's ``config.json`` content."""
    scores = config.get("scores") or {}
    trained, untrained = scores.get("trained") or {}, scores.get("untrained") or {}
    run = config.get("run") or {}
    training = config.get("training") or {}
    encoder = config.get("encoder") or {}
    rows = "\n".join(f"| {metric} | {_number(trained.get(metric))} | {_number(untrained.get(metric))} |"
                     for metric in trained)
    table = ("| metric | this encoder | untrained encoder (same architecture, random weights) |\n|---|---|---|\n"
             + rows) if rows else "No scores were recorded with this export."
    dataset = config.get("dataset") or "unknown"
    return f"""---
library_name: carl-pipeline
tags:
- video
- frame-wise-representation
- carl
- self-supervised
---

# CARL frame-wise video encoder ({dataset})

A frame-wise action representation encoder trained with {training.get('algorithm', 'scl').upper()}
(CARL: Chen et al., "Frame-wise Action Representations for Long Videos via Sequence Contrastive
Learning", CVPR 2022), exported by carl-pipeline. It maps a video of `T` frames to `T`
embeddings of size {encoder.get('embedding_size')}.

## Scores ({dataset}, the project's evaluation protocol)

{table}

## How it was made

- Run: `{run.get('name')}` (id `{run.get('id')}`), {training.get('epoch')} epochs, final loss
  {_number(training.get('final_loss'))}; backbone {encoder.get('backbone')}, started from
  {training.get('backbone_init')}.
- Data fingerprint (the training videos' frames): `{config.get('data_fingerprint')}`
- Released checkpoint converted from: {config.get('released_checkpoint') or 'none'}

## Input

Frames as RGB floats in [0, 1], framed to {config['input']['image_size']} x
{config['input']['image_size']} by `{config['input']['framing']}`
(`carl_pipeline.augment.eval_transform`); the encoder normalises them itself
(`input_norm: {config['input']['input_norm']}`). Shape `(B, T, 3, S, S)` -> `(B, T, D)`.

## Use

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
{json.dumps({"encoder": encoder, "sampling": training.get("sampling"), "augment": training.get("augment"),
             "loss": training.get("loss")}, indent=2, default=str)}
```
"""
