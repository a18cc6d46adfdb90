"""Phases found with no labels at all: every video of a folder cut into K phases that mean the
same thing in every video, so that a person names the K phases once.

How (``discover_phases``): the K phases are taken to happen in the same order in every video, as
a transcript known in advance, and learnt as a left-to-right model of them is learnt from
transcripts alone: a flat start, then Viterbi re-alignment (hard EM), each phase made of a few
sub-states (Kuehne, Richard and Gall, "Weakly supervised learning of actions from transcripts",
CVIU 2017; Richard et al., CVPR 2017):

1. **Flat start**: every video cut into ``k x states_per_phase`` equal parts; sub-state s's
   prototype is the mean over the videos of each video's mean (L2-normalised) frame in part s,
   every video weighing the same (so that what all of one video's frames share, its scene or
   light, is in every prototype alike and pulls its frames towards none). An equal split is the
   trivial answer; its parts' prototypes, pooled over many videos, are already near the phases'
   looks.
2. **Re-alignment**: each video aligned to the sequence of the prototypes with the alignment label
   propagation uses (``carl_pipeline.labels.align``: DTW, every sub-state at least once, in
   order; linear memory in long videos); a frame takes the phase of its sub-state.
3. **Re-estimation**: the prototypes recomputed from the frames aligned to them; 2-3 again until
   no frame changes sub-state (at most ``max_iterations``).

Under ``drop_dtw`` a frame may be dropped, and becomes ``background``, at a cost of
``drop_scale`` times the median distance of all the videos' frames to their nearest prototype
(most frames are of the action: a frame much farther from every prototype than that is not);
dropped frames do not shape the prototypes.

From an untrained encoder the re-alignment has nothing to go on and the cut stays near the equal
split; the measured alternatives (k-means prototypes ordered by time, as Kukleva et al., CVPR
2019; a medoid video's consensus) fell short of it, and ``experiments/LOG.md`` has the numbers
and how ``states_per_phase`` was chosen (on the Pouring demo's training videos: sub-states hold
a phase's beginning, middle and end apart; where a phase is one still look, 1 does better).

Scored against true phases (``discovery_scores``) after the best one-to-one matching of found to
true phases (Hungarian), with boundary F1 within a tolerance, beside an equal-length split of
each video (``equal_split``), the trivial answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from carl_pipeline.labels.align import DROPPED, align, normalised
from carl_pipeline.labels.propagate import _soft_mass, state_means
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


def _prototypes(videos: Mapping[str, np.ndarray], states: Mapping[str, np.ndarray], count: int) -> np.ndarray:
    """``(count, D)`` unit-length prototypes: ``state_means`` of the videos' sub-states
    (``DROPPED`` frames left out). Every video has a frame in every sub-state: the flat start cuts
    it into ``count`` non-empty parts, and the alignment matches every prototype."""
    return state_means(videos, states, count)[0]


def discover_phases(videos: Mapping[str, np.ndarray], k: int, method: str = "dtw", *, states_per_phase: int = 4,
                    max_iterations: int = 20, temperature: float = 0.1, drop_scale: float = 3.0,
                    band_radius: int = 32, max_cells: int = 4_000_000
                    ) -> tuple[dict[str, dict[str, np.ndarray | list]], dict]:
    """Cut every video into ``k`` phases shared across the videos (module docstring).

    Args:
        videos: ``{video_id: (T, D) embeddings}``.
        k: the number of phases.
        method: ``dtw`` (every frame in a phase) or ``drop_dtw`` (frames unlike every prototype
            may be dropped as background); ``auto`` is ``dtw`` (no labels mark background here).
        states_per_phase: sub-states per phase (fewer where the shortest video has fewer than
            ``k x states_per_phase`` frames).
        max_iterations: re-alignments at most, after the flat start.
        drop_scale: ``drop_dtw``'s drop cost, in medians of the frames' distances to their
            nearest prototype.

    Returns:
        As ``propagate``: ``{video_id: {"phase", "confidence", "sources"}}`` (phase numbers 0 ..
        k - 1 in the order they happen, ``BACKGROUND_LABEL`` for background; ``sources``: the
        prototypes), and a report: ``k``, ``method``, ``states_per_phase`` (used),
        ``iterations``, ``converged``, ``relative_times`` (each phase's mean place in its videos),
        ``frames_per_phase``, ``background_frames``.

    Raises:
        DiscoveryError: ``k`` below 2 or above the shortest video's length (naming it), fewer than
            two videos, or an unknown method.
    """
    if method not in ("auto", "dtw", "drop_dtw"):
        raise DiscoveryError(f"phase discovery aligns by dtw or drop_dtw, got {method!r}")
    method = "dtw" if method == "auto" else method
    _check(videos, k)
    if states_per_phase < 1 or max_iterations < 0:
        raise DiscoveryError(f"videos.discover_phases needs states_per_phase >= 1 and max_iterations >= 0, "
                             f"got {states_per_phase} and {max_iterations}")
    videos = {v: normalised(e) for v, e in videos.items()}
    per_phase = max(1, min(int(states_per_phase), min(len(e) for e in videos.values()) // k))
    count = k * per_phase
    states = {v: equal_split(len(e), count) for v, e in videos.items()}  # the flat start
    prototypes = _prototypes(videos, states, count)
    iterations, converged = 0, False
    while True:
        drop = None
        if method == "drop_dtw":
            typical = float(np.median(np.concatenate([1.0 - (e @ prototypes.T).max(axis=1) for e in videos.values()])))
            drop = {v: np.full(len(e), drop_scale * typical) for v, e in videos.items()}
        aligned = {v: align(e, prototypes, None if drop is None else drop[v], band_radius=band_radius,
                            max_cells=max_cells).matches for v, e in videos.items()}
        converged = all(np.array_equal(aligned[v], states[v]) for v in videos)
        states = aligned
        if converged or iterations == max_iterations:
            break
        iterations += 1
        prototypes = _prototypes(videos, states, count)
    phase_prototypes = normalised(np.stack([prototypes[p * per_phase:(p + 1) * per_phase].mean(axis=0) for p in range(k)]))
    order = np.arange(k)
    out = {}
    for video_id, target in videos.items():
        matches = states[video_id]
        phase = np.where(matches == DROPPED, BACKGROUND_LABEL, np.maximum(matches, 0) // per_phase).astype(np.int64)
        mass = _soft_mass(target, phase_prototypes, order, np.zeros((0, target.shape[1])), k, temperature,
                          None if drop is None else drop[video_id])
        confidence = mass[np.arange(len(target)), np.where(phase == BACKGROUND_LABEL, k, phase)]
        out[video_id] = {"phase": phase, "confidence": confidence.astype(np.float32),
                         "sources": [["prototypes"]] * len(phase)}
    phases = np.concatenate([o["phase"] for o in out.values()])
    times = np.concatenate([(np.arange(len(e)) + 0.5) / len(e) for e in videos.values()])
    when = [float(times[phases == p].mean()) if (phases == p).any() else float("nan") for p in range(k)]
    lengths = np.bincount(np.maximum(phases, -1) + 1, minlength=k + 1)
    report = {"k": int(k), "method": method, "states_per_phase": per_phase, "iterations": iterations,
              "converged": bool(converged), "relative_times": [round(t, 4) for t in when],
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
