"""Phases found with no labels at all: every video of a folder cut into K phases that mean the
same thing in every video, so that a person names the K phases once.

How (``discover_phases``): ordered clustering and monotonic decoding, as in Kukleva et al.,
"Unsupervised Learning of Action Classes with Continuous Temporal Embedding" (CVPR 2019):

1. **K prototypes**: k-means (``k``) over the frames of all the videos (on a sample of at most
   ``max_cluster_frames`` frames), the embeddings L2-normalised.
2. **In the order they happen**: the prototypes sorted by the mean relative time (frame index over
   length) of the frames nearest to them.
3. **Every video cut in that order**: each video is aligned to the sequence of the K prototypes
   with the alignment label propagation uses (``carl_pipeline.labels.align``: DTW, every
   prototype at least once, in order; linear memory in long videos). Under ``drop_dtw`` a frame
   may be dropped, and becomes ``background``, at a cost of ``drop_scale`` times the median
   distance of all the videos' frames to their nearest prototype (most frames are of the action:
   a frame much farther from every prototype than that is not).

The medoid-consensus alternative (align every video to a medoid video, cut the medoid) scored
below an equal-length split on the Pouring demo and was not kept (``experiments/LOG.md``).

Scored against true phases (``discovery_scores``) after the best one-to-one matching of found to
true phases (Hungarian), with boundary F1 within a tolerance, beside an equal-length split of
each video (``equal_split``), the trivial answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from carl_pipeline.labels.align import DROPPED, align, normalised
from carl_pipeline.labels.propagate import _soft_mass
from carl_pipeline.labels.reading import BACKGROUND_LABEL


class DiscoveryError(ValueError):
    """Phase discovery asked for what the videos cannot give (the message names the setting or video)."""


def _check(videos: Mapping[str, np.ndarray], k: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
        raise DiscoveryError(f"videos.discover_phases must be a number of phases of at least 2, got {k!r}")
    if len(videos) < 2:
        raise DiscoveryError(f"phase discovery needs at least 2 videos to agree on phases, got {len(videos)}")
    shortest = min(videos, key=lambda v: len(videos[v]))
    if len(videos[shortest]) < k:
        raise DiscoveryError(f"videos.discover_phases is {k}, but video {shortest!r} has only "
                             f"{len(videos[shortest])} frames: at most {len(videos[shortest])} phases can be found")


def ordered_prototypes(videos: Mapping[str, np.ndarray], k: int, max_cluster_frames: int = 200_000,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(k, D)`` unit-length k-means prototypes of the videos' (normalised) frames, sorted by the
    mean relative time of their frames, and those ``(k,)`` mean relative times."""
    from sklearn.cluster import KMeans

    frames = np.concatenate(list(videos.values()))
    times = np.concatenate([(np.arange(len(e)) + 0.5) / len(e) for e in videos.values()])
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(len(frames), size=min(len(frames), max_cluster_frames), replace=False))
    kmeans = KMeans(k, n_init=10, random_state=seed).fit(frames[sample])
    nearest = kmeans.labels_
    when = np.array([times[sample][nearest == c].mean() if (nearest == c).any() else 1.0 for c in range(k)])
    order = np.argsort(when, kind="stable")
    return normalised(kmeans.cluster_centers_[order]), when[order]


def discover_phases(videos: Mapping[str, np.ndarray], k: int, method: str = "dtw", *, temperature: float = 0.1,
                    drop_scale: float = 3.0, band_radius: int = 32,
                    max_cells: int = 4_000_000, max_cluster_frames: int = 200_000, seed: int = 0
                    ) -> tuple[dict[str, dict[str, np.ndarray | list]], dict]:
    """Cut every video into ``k`` phases shared across the videos (module docstring).

    Args:
        videos: ``{video_id: (T, D) embeddings}``.
        k: the number of phases.
        method: ``dtw`` (every frame in a phase) or ``drop_dtw`` (frames unlike every prototype
            may be dropped as background); ``auto`` is ``dtw`` (no labels mark background here).
        drop_scale: ``drop_dtw``'s drop cost, in medians of the frames' distances to their
            nearest prototype.

    Returns:
        As ``propagate``: ``{video_id: {"phase", "confidence", "sources"}}`` (phase numbers 0 ..
        k - 1 in the order they happen, ``BACKGROUND_LABEL`` for background; ``sources``: the
        prototypes), and a report: ``k``, ``method``, ``relative_times`` (of the prototypes),
        ``frames_per_phase``.

    Raises:
        DiscoveryError: ``k`` below 2 or above the shortest video's length (naming it), fewer than
            two videos, or an unknown method.
    """
    if method not in ("auto", "dtw", "drop_dtw"):
        raise DiscoveryError(f"phase discovery aligns by dtw or drop_dtw, got {method!r}")
    method = "dtw" if method == "auto" else method
    _check(videos, k)
    videos = {v: normalised(e) for v, e in videos.items()}
    prototypes, when = ordered_prototypes(videos, k, max_cluster_frames, seed)
    order = np.arange(k)
    typical = float(np.median(np.concatenate([1.0 - (e @ prototypes.T).max(axis=1) for e in videos.values()])))
    out = {}
    for video_id, target in videos.items():
        drop = np.full(len(target), drop_scale * typical) if method == "drop_dtw" else None
        matches = align(target, prototypes, drop, band_radius=band_radius, max_cells=max_cells).matches
        phase = np.where(matches == DROPPED, BACKGROUND_LABEL, np.maximum(matches, 0)).astype(np.int64)
        mass = _soft_mass(target, prototypes, order, np.zeros((0, target.shape[1])), k, temperature, drop)
        confidence = mass[np.arange(len(target)), np.where(phase == BACKGROUND_LABEL, k, phase)]
        out[video_id] = {"phase": phase, "confidence": confidence.astype(np.float32),
                         "sources": [["prototypes"]] * len(phase)}
    lengths = np.bincount(np.concatenate([np.maximum(o["phase"], -1) + 1 for o in out.values()]), minlength=k + 1)
    report = {"k": int(k), "method": method, "relative_times": [round(float(t), 4) for t in when],
              "frames_per_phase": [int(c) for c in lengths[1:]], "background_frames": int(lengths[0])}
    return out, report


def equal_split(num_frames: int, k: int) -> np.ndarray:
    """``(num_frames,)``: ``k`` phases of equal length, the trivial cut."""
    return np.minimum((np.arange(num_frames) * k) // num_frames, k - 1).astype(np.int64)


def _boundaries(labels: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.diff(labels) != 0) + 1


def boundary_f1(predicted: Sequence[np.ndarray], truth: Sequence[np.ndarray], tolerance: int = 5) -> float:
    """F1 of the phase boundaries found, a found boundary counting when it lies within
    ``tolerance`` frames of a true one not already matched (greedy, nearest first), pooled over
    the videos."""
    hits = found = true = 0
    for p, t in zip(predicted, truth):
        pb, tb = _boundaries(np.asarray(p)), _boundaries(np.asarray(t))
        found, true = found + len(pb), true + len(tb)
        pairs = sorted((abs(int(a) - int(b)), i, j) for i, a in enumerate(pb) for j, b in enumerate(tb)
                       if abs(int(a) - int(b)) <= tolerance)
        used_p, used_t = set(), set()
        for _, i, j in pairs:
            if i not in used_p and j not in used_t:
                used_p.add(i)
                used_t.add(j)
        hits += len(used_p)
    if found == 0 or true == 0:
        return 0.0
    precision, recall = hits / found, hits / true
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def matched_accuracy(predicted: Sequence[np.ndarray], truth: Sequence[np.ndarray]) -> tuple[float, dict[int, int]]:
    """Frame accuracy after the one-to-one matching of found to true labels (background included
    as a label of each side) that maximises it (Hungarian), pooled over the videos; and the
    matching ``{found: true}``."""
    from scipy.optimize import linear_sum_assignment

    p, t = np.concatenate(predicted), np.concatenate(truth)
    known = t != -1
    p, t = p[known], t[known]
    found, true = np.unique(p), np.unique(t)
    overlap = np.array([[np.sum((p == a) & (t == b)) for b in true] for a in found])
    rows, cols = linear_sum_assignment(-overlap)
    return float(overlap[rows, cols].sum() / len(t)), {int(found[r]): int(true[c]) for r, c in zip(rows, cols)}


def discovery_scores(found: Mapping[str, np.ndarray], truth: Mapping[str, np.ndarray], k: int,
                     tolerance: int = 5) -> dict[str, float]:
    """Hungarian-matched accuracy and boundary F1 of ``found`` labels, and of an equal-length
    split of each video into ``k``, against ``truth`` (``{video_id: (T,) labels}``)."""
    ids = sorted(truth)
    predicted, true = [np.asarray(found[v]) for v in ids], [np.asarray(truth[v]) for v in ids]
    split = [equal_split(len(truth[v]), k) for v in ids]
    return {"accuracy": matched_accuracy(predicted, true)[0], "boundary_f1": boundary_f1(predicted, true, tolerance),
            "equal_split_accuracy": matched_accuracy(split, true)[0],
            "equal_split_boundary_f1": boundary_f1(split, true, tolerance)}
