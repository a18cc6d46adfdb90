"""Per-frame embeddings of every video with a frozen encoder, and the table notebooks load."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from carl_pipeline.augment import eval_transform
from carl_pipeline.checks import check_choice
from carl_pipeline.devices import cpu_has_native_bf16, resolve_device
from carl_pipeline.distributed import all_gather_dict, shard, world
from carl_pipeline.embedding.table import embeddings_table
from carl_pipeline.models import CARLEncoder
from carl_pipeline.record import Checkpoint, load_encoder, read_checkpoint
from carl_pipeline.video.frame_pack import FramePack
from carl_pipeline.video.frame_store import FrameStore

logger = logging.getLogger(__name__)


def untrained_checkpoint(checkpoint: Checkpoint | dict[str, Any], seed: int = 0) -> Checkpoint:
    """The same architecture as ``checkpoint``, randomly initialised (backbone included): the
    reference that shows what training bought."""
    checkpoint = read_checkpoint(checkpoint)
    torch.manual_seed(seed)
    model = CARLEncoder(checkpoint.encoder_config())
    return replace(checkpoint, model=model.state_dict(), history=[], untrained=True, optimizer=None, scaler=None,
                   rng=None)


#: Extraction precisions: auto (bf16 on CUDA where supported, else fp16; float32 elsewhere), or
#: bf16 / fp16 autocast on CUDA (released evaluate.py: fp16, torch.cuda.amp.autocast), bf16
#: autocast on a CPU too (asked for only: 1.6x float32 where the CPU has native bf16), or fp32.
PRECISIONS = ("auto", "bf16", "fp16", "fp32")


def embedding_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype extraction runs in on ``device`` (None: float32). On a CPU only
    ``bf16`` autocasts (the embeddings then differ from float32's in the third decimal, so the
    scores may move: ``auto`` stays float32 there, and scores compare across CPUs); fp16 and
    ``auto`` embed in float32."""
    check_choice("precision", precision, PRECISIONS)
    if device.type == "cpu":
        return torch.bfloat16 if precision == "bf16" else None
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def dtype_name(dtype: torch.dtype | None) -> str:
    """``float32``, ``bfloat16`` or ``float16``: what ``metrics.json`` records."""
    return str(dtype or torch.float32).removeprefix("torch.")


@torch.inference_mode()
def embed_video(model: CARLEncoder, pack: FramePack, image_size: int, device: torch.device,
                amp_dtype: torch.dtype | None = None, normalize: bool = True,
                framing: str = "resize_crop") -> np.ndarray:
    """Embeddings of every frame of one video: ``(num_frames, D)`` float32.

    Frames are decoded and pushed through the backbone ``frames_per_batch`` at a time; the
    transformer then sees the whole video at once, as in the paper's evaluation. ``framing``:
    see ``carl_pipeline.augment.eval_transform``.
    """
    chunk = model.config.frames_per_batch
    features = []
    for start in range(0, len(pack), chunk):
        frames = pack.read(np.arange(start, min(start + chunk, len(pack))))
        frames = eval_transform(frames.to(device), image_size, framing)[None]  # (1, t, 3, S, S)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            features.append(model.backbone_features(frames).float())
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        embeddings = model.embed_features(torch.cat(features, dim=1), normalize=normalize)
    return embeddings[0].float().cpu().numpy()


def extract_embeddings(model: CARLEncoder, store: FrameStore, video_ids: Sequence[str], image_size: int,
                       device: str | None = None, progress: bool = True,
                       framing: str = "resize_crop", precision: str = "auto") -> dict[str, np.ndarray]:
    """``{video_id: (num_frames, D)}`` for every listed video, in the listed order (eval mode, no
    projection head); ``framing`` as in ``carl_pipeline.augment.eval_transform``; ``precision``
    as in ``embedding_dtype``.

    Under ``torchrun`` the videos are split across the processes (rank ``r`` of ``n`` embeds every
    ``n``-th video from the ``r``-th, on its own GPU with ``device: auto``) and every process
    returns the whole result, each video's rows where one process would have put them.
    """
    rank, size, _ = world()
    device = resolve_device(device or "auto")
    amp_dtype = embedding_dtype(precision, device)
    if device.type == "cpu" and amp_dtype is not None and not cpu_has_native_bf16():
        logger.warning("embedding under bf16 autocast on a CPU without native bf16: emulated, slower than "
                       "float32 (evaluate.precision: auto or fp32 embeds in float32)")
    model = model.to(device).eval()
    mine, my_ids = {}, shard(video_ids, rank, size)
    if size > 1:
        logger.info("rank %d/%d embeds %d of %d videos", rank, size, len(my_ids), len(video_ids))
    for video_id in tqdm(my_ids, desc="embedding videos" + (f" (rank {rank})" if size > 1 else ""),
                         unit="video", disable=not progress):
        mine[video_id] = embed_video(model, store.open(video_id), image_size, device, amp_dtype, framing=framing)
    everything = all_gather_dict(mine, size)
    return {video_id: everything[video_id] for video_id in video_ids}


def embed_videos(checkpoint: Checkpoint | dict[str, Any], store: FrameStore, video_index: pd.DataFrame,
                 frame_labels: pd.DataFrame, settings) -> pd.DataFrame:
    """Every frame of every video of ``video_index`` embedded with ``checkpoint`` (frozen, no
    projection head): one row per frame, ``video_id``, ``split``, ``action``, ``frame_index``, the
    label columns and ``embedding`` (float32, ``(D,)``).

    Args:
        settings: ``framing``, ``image_size`` (None: the model's own), ``device``, ``progress`` and
            ``precision`` (a dataset's ``evaluate`` block, or ``videos.report``).
    """
    image_size, framing = input_settings(checkpoint, settings.image_size, settings.framing)
    embeddings = extract_embeddings(load_encoder(checkpoint), store, video_index["video_id"].tolist(), image_size,
                                    device=settings.device, progress=settings.progress, framing=framing,
                                    precision=settings.precision)
    return embeddings_table(embeddings, video_index, frame_labels)


def input_settings(checkpoint: Checkpoint | dict[str, Any], image_size: int | None, framing: str | None
                   ) -> tuple[int, str]:
    """The ``(image side, framing)`` a model is fed with: the settings' where set, else the
    model's own (its training image size; the framing its maker recorded), else resize_crop."""
    checkpoint = read_checkpoint(checkpoint)
    return image_size or checkpoint.image_size, framing or checkpoint.framing or "resize_crop"


def load_image(path: str) -> torch.Tensor:
    """An image file as a ``(3, H, W)`` uint8 RGB tensor.

    Raises:
        ValueError: the file is missing or not an image (naming it).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            array = np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as error:
        raise ValueError(f"{path}: not a readable image ({error})") from error
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


@torch.inference_mode()
def embed_image(checkpoint: Checkpoint | dict[str, Any], path: str, settings) -> np.ndarray:
    """``(1, D)``: an image file embedded as a one-frame video, framed as the library's frames
    are (``settings``: ``framing``, ``image_size``, ``device``, as for ``embeddings_of``)."""
    device = resolve_device(settings.device or "auto")
    model = load_encoder(checkpoint, str(device))
    image_size, framing = input_settings(checkpoint, settings.image_size, settings.framing)
    frames = eval_transform(load_image(path)[None].to(device), image_size, framing)
    return model(frames[None])[0].float().cpu().numpy()
