"""Each method's training loss over epochs in a `compare_<dataset>` run (issue 34, part 5), from
the TensorBoard logs the training loop writes (``data/06_models/runs/<run>/tensorboard``,
``train/epoch_loss``), one panel per method: the losses have different scales and signs, so each
is drawn as it is logged, beside its first epoch's value.

The rows and their runs are the comparison's own (``data/08_reporting/<dataset>/comparison.json``,
``models``: every trained row, with the run that trained it), so the curves are those of the
models the table scores, whatever was trained in a namespace after it.

Run (after ``kedro run --pipelines=compare_pouring``):
``python experiments/compare_curves.py --dataset pouring --out docs/images/comparison_losses_pouring.png``.
No torch here: TensorBoard's reader may import TensorFlow, which must not share a process with torch.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def newest(path: Path) -> Path:
    """A versioned dataset's newest version (``path/<version>/<name>``), or ``path`` itself."""
    if path.is_dir():
        return sorted(path.iterdir())[-1] / path.name
    return path


def epoch_losses(project: Path, run: str) -> list[tuple[int, float]]:
    """``run``'s ``(epoch, loss)`` pairs, from its TensorBoard log."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(project / "data/06_models/runs" / run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars("train/epoch_loss")]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="pouring")
    parser.add_argument("--project", type=Path, default=ROOT)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = args.project / "data/08_reporting" / args.dataset / "comparison.json"
    if not table.exists():
        raise SystemExit(f"{table}: no comparison; run `kedro run --pipelines=compare_{args.dataset}` first")
    curves = {}
    for method, model in json.loads(newest(table).read_text())["models"].items():
        losses = epoch_losses(args.project, model["run"])
        curves[method] = losses
        print(json.dumps({"method": method, "run": model["run"], "epochs": len(losses), "first": round(losses[0][1], 4),
                          "last": round(losses[-1][1], 4), "min": round(min(v for _, v in losses), 4)}))
    fig, axes = plt.subplots(2, (len(curves) + 1) // 2, figsize=(3.0 * ((len(curves) + 1) // 2), 5.2), squeeze=False)
    for ax, (method, losses) in zip(axes.flat, curves.items()):
        ax.plot([e for e, _ in losses], [v for _, v in losses], color="tab:blue")
        ax.set_title(method, fontsize=10)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(curves):]:
        ax.axis("off")
    fig.suptitle(f"compare_{args.dataset}: training loss per epoch (train/epoch_loss)", fontsize=11)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
