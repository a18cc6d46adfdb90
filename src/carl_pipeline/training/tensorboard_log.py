"""The TensorBoard writer of a run folder."""

from __future__ import annotations

from carl_pipeline.record import RunDir


def summary_writer(run_dir: RunDir, subfolder: str | None = None):
    """A TensorBoard writer that never imports TensorFlow: TensorBoard uses TensorFlow when it is
    installed, and TensorFlow beside torchvision crashes the process (see video/tfrecord.py).
    An importable ``tensorboard.compat.notf`` is TensorBoard's own switch to its stub API."""
    import sys
    import types

    sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(run_dir.tensorboard / subfolder if subfolder else run_dir.tensorboard))
