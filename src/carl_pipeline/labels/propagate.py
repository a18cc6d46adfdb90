"""Label by example: phase labels of a few videos carried to every other video on the embeddings.

How (``propagate``): the embeddings are L2-normalised, so that similarity is the cosine. Each
labelled video votes on each frame of a video to label:

* ``dtw``: the two videos are aligned by dynamic time warping on the cosine distance (labelled
  frames only), and each frame takes the phase of the labelled frame it is matched with; the
  alignment keeps the phases in order, as they are in an action;
* ``nn``: each frame takes the phase mass of the labelled video's frames, weighted by a softmax
  of their similarity to it (``temperature``), its soft nearest neighbours.

The votes of all labelled videos are averaged and the phase with most wins. A frame's
``confidence`` is, averaged over the labelled videos, the share of the softmax weight of their
frames that carry the phase chosen: 1 when every frame that looks like it has that phase, low
where the labelled videos' similar frames disagree (a phase boundary, a frame unlike any).

The baseline that uses no embedding (``relative_time_labels``) gives each frame the phase of the
labelled videos at the same relative time.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from carl_pipeline.evaluation.alignment import dtw_path

METHODS = ("dtw", "nn")


def _normalised(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _softmax_phase_mass(similarity: np.ndarray, phases: np.ndarray, num_phases: int, temperature: float
                        ) -> np.ndarray:
    """``(T, P)``: per frame, the softmax weight (over the labelled frames) of each phase."""
    logits = similarity / temperature
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ np.eye(num_phases)[phases]


def _dtw_votes(target: np.ndarray, source: np.ndarray, phases: np.ndarray, num_phases: int) -> np.ndarray:
    """``(T, P)`` one-hot: the phase of the labelled frame each target frame is aligned with (the
    first of them, where DTW matches a frame to several)."""
    path = dtw_path(target, source, "cosine")  # (L, 2), target frames in order, each at least once
    first = path[np.searchsorted(path[:, 0], np.arange(len(target))), 1]
    votes = np.zeros((len(target), num_phases))
    votes[np.arange(len(target)), phases[first]] = 1.0
    return votes


def propagate(targets: Mapping[str, np.ndarray], labelled: Mapping[str, tuple[np.ndarray, np.ndarray]],
              num_phases: int, method: str = "dtw", temperature: float = 0.1
              ) -> dict[str, dict[str, np.ndarray | list]]:
    """Phase labels for ``targets`` from the ``labelled`` videos.

    Args:
        targets: ``{video_id: (T, D) embeddings}`` of the videos to label.
        labelled: ``{video_id: ((N, D) embeddings, (N,) int phases, -1 for none)}``; a video's
            frames without a phase do not vote.
        num_phases: the number of phases (phase numbers are ``0 .. num_phases - 1``).
        method: ``dtw`` or ``nn`` (see the module docstring).
        temperature: the softmax temperature of the cosine similarities (``nn`` and the confidence).

    Returns:
        ``{video_id: {"phase": (T,) int64, "confidence": (T,) float32, "sources": [per frame,
        the labelled videos that voted for the chosen phase]}}``.
    """
    if method not in METHODS:
        raise ValueError(f"label propagation method must be one of {list(METHODS)}, got {method!r}")
    if not labelled:
        raise ValueError("no labelled video to propagate labels from")
    sources = {}
    for video_id, (embeddings, phases) in labelled.items():
        phases = np.asarray(phases, dtype=np.int64)
        keep = phases >= 0
        sources[video_id] = (_normalised(np.asarray(embeddings)[keep]), phases[keep])
    out = {}
    for video_id, embeddings in targets.items():
        target = _normalised(embeddings)
        votes, mass, voted = np.zeros((len(target), num_phases)), np.zeros((len(target), num_phases)), []
        for source_id, (source, phases) in sources.items():
            soft = _softmax_phase_mass(target @ source.T, phases, num_phases, temperature)
            vote = _dtw_votes(target, source, phases, num_phases) if method == "dtw" else soft
            votes += vote
            mass += soft
            voted.append((source_id, vote.argmax(axis=1)))
        phase = votes.argmax(axis=1)
        confidence = mass[np.arange(len(target)), phase] / len(sources)
        agreeing = [[source_id for source_id, choice in voted if choice[t] == phase[t]] for t in range(len(target))]
        out[video_id] = {"phase": phase.astype(np.int64), "confidence": confidence.astype(np.float32),
                         "sources": agreeing}
    return out


def relative_time_labels(num_frames: int, labelled: Mapping[str, np.ndarray], num_phases: int) -> np.ndarray:
    """``(num_frames,)`` phases: each frame takes the labelled videos' phase at its relative time
    (the centre of frame t is at (t + 0.5) / num_frames), the most common across them (frames of
    theirs without a phase do not vote)."""
    votes = np.zeros((num_frames, num_phases))
    centres = (np.arange(num_frames) + 0.5) / num_frames
    for phases in labelled.values():
        phases = np.asarray(phases, dtype=np.int64)
        at = phases[np.minimum((centres * len(phases)).astype(int), len(phases) - 1)]
        has = at >= 0
        votes[np.flatnonzero(has), at[has]] += 1
    return votes.argmax(axis=1).astype(np.int64)


def accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    """The fraction of frames with a true phase (>= 0) given that phase."""
    truth = np.asarray(truth)
    known = truth >= 0
    if not known.any():
        return float("nan")
    return float(np.mean(np.asarray(predicted)[known] == truth[known]))


def propagation_scores(table, label: str, labelled_ids, target_ids, method: str = "dtw", temperature: float = 0.1
                       ) -> dict[str, float]:
    """How well labels carried from ``labelled_ids`` match the true labels of ``target_ids``,
    from an embeddings table (one row per frame, the true phases in column ``label``).

    Returns:
        ``{"propagated": accuracy, "relative_time": the baseline's accuracy}``, over all the
        target videos' labelled frames together.
    """
    from carl_pipeline.embedding.table import one_video

    labelled = {v: one_video(table, v, label) for v in labelled_ids}
    num_phases = int(max(int(y.max()) for _, y in labelled.values())) + 1
    truth = {v: one_video(table, v, label) for v in target_ids}
    num_phases = max(num_phases, int(max(int(y.max()) for _, y in truth.values())) + 1)
    found = propagate({v: e for v, (e, _) in truth.items()}, labelled, num_phases, method, temperature)
    sources = {v: y for v, (_, y) in labelled.items()}
    predicted = np.concatenate([found[v]["phase"] for v in target_ids])
    baseline = np.concatenate([relative_time_labels(len(truth[v][1]), sources, num_phases) for v in target_ids])
    true = np.concatenate([truth[v][1] for v in target_ids])
    return {"propagated": accuracy(predicted, true), "relative_time": accuracy(baseline, true)}
