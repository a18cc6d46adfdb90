"""Label by example: phase labels of a few videos carried to every other video on the embeddings.

How (``propagate``): the embeddings are L2-normalised, so that similarity is the cosine. Each
labelled video votes on each frame of a video to label:

* ``dtw``: the two videos are aligned by dynamic time warping on the cosine distance (the
  labelled video's phase frames only), and each frame takes the phase of the labelled frame it is
  matched with; the alignment keeps the phases in order, as they are in an action. Every frame
  is matched: right for trimmed videos, where the action fills the video;
* ``drop_dtw``: for untrimmed footage. The video is aligned with the whole labelled video, its
  frames labelled ``background`` in their places (so that what comes before, between and after
  the action in one is matched with what does in the other), with two freedoms
  (``carl_pipeline.labels.align``): a frame of the video to label may be dropped (Drop-DTW,
  Dvornik et al., NeurIPS 2021), and becomes ``background``; the labelled video's leading and
  trailing background need not be matched (the video may start or end sooner). A frame's drop
  cost is ``drop_scale`` times the ``drop_percentile``-th percentile of the labelled phase
  frames' cosine distances to their nearest frame of the video: what matching a frame of the
  action costs there, however much of the video is background (a percentile rule as Drop-DTW's,
  taken over nearest matches rather than all pairs so that it does not move with the share of
  background; an aligned pair is rarely a nearest pair, hence the scale). So a frame unlike every
  labelled frame is dropped, and an action that starts late or ends early is still aligned phase
  by phase. Then, with ``phase_template`` (the default), the votes decide only which frames are
  background: the frames they give a phase are aligned, in order, by DTW to a template of the
  phases (each phase's mean embedding, the mean over the labelled videos of each one's own mean
  frame in it, every video weighing the same, as ``discover``'s prototypes) and take the phase
  they are matched with. One labelled video's way of doing a phase is noise the template averages
  away; measured on four untrimmed demo sets (``experiments/LOG.md``), it gains 0.03 on average;
* ``nn``: each frame takes the phase mass of the labelled video's frames (background frames
  included), weighted by a softmax of their similarity to it (``temperature``), its soft nearest
  neighbours;
* ``auto``: ``drop_dtw`` when a labelled video has background frames, else ``dtw``.

The votes of all labelled videos are averaged and the phase with most wins (background is one
more choice). A frame's ``confidence`` is, averaged over the labelled videos, the share of the
softmax weight of their frames that carry the phase chosen: 1 when every frame that looks like it
has that phase, low where the labelled videos' similar frames disagree (a phase boundary, a frame
unlike any). Under ``drop_dtw`` a virtual background frame joins the softmax, as similar to each
frame as its drop cost allows (``1 - drop cost``, VAVA's virtual frame), so a dropped frame's
confidence is the weight of background, labelled and virtual.

Long videos are aligned in memory linear in their lengths (``align``'s multiscale band).

The baseline that uses no embedding (``relative_time_labels``) gives each frame the label of the
labelled videos at the same relative time (background included).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from carl_pipeline.checks import check_choice
from carl_pipeline.labels.align import DROPPED, align, normalised
from carl_pipeline.labels.reading import BACKGROUND_LABEL

METHODS = ("auto", "dtw", "drop_dtw", "nn")



def _softmax_phase_mass(similarity: np.ndarray, phases: np.ndarray, num_phases: int, temperature: float
                        ) -> np.ndarray:
    """``(T, P)``: per frame, the softmax weight (over the labelled frames) of each phase."""
    logits = similarity / temperature
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ np.eye(num_phases)[phases]


def drop_costs(target: np.ndarray, source: np.ndarray, percentile: float, scale: float = 3.0) -> np.ndarray:
    """``(T,)`` the cost of dropping each target frame: ``scale`` times the ``percentile`` of the
    source's phase frames' cosine distances to their nearest target frame (what matching a frame
    of the action costs, whatever share of the target is background; an aligned pair is rarely a
    nearest pair, hence the scale)."""
    nearest_in_target = np.concatenate([1.0 - (source[start:start + 2048] @ target.T).max(axis=1)
                                        for start in range(0, len(source), 2048)])  # chunks: linear memory
    return np.full(len(target), scale * float(np.percentile(nearest_in_target, percentile)))


def _aligned_votes(target: np.ndarray, source: np.ndarray, labels: np.ndarray, num_phases: int,
                   drop: np.ndarray | None, band_radius: int, max_cells: int) -> np.ndarray:
    """``(T, P + 1)`` one-hot: the label of the labelled frame each target frame is aligned with
    (the first of them, where it is matched with several), background (the last column) where
    that frame is background or the target frame was dropped. The source's leading and trailing
    background need not be matched (the target may start or end sooner)."""
    action = np.flatnonzero(labels >= 0)
    head, tail = int(action[0]), int(len(labels) - 1 - action[-1])
    matches = align(target, source, drop, band_radius=band_radius, max_cells=max_cells, skip_head=head,
                    skip_tail=tail).matches
    label = np.where(matches == DROPPED, BACKGROUND_LABEL, labels[np.maximum(matches, 0)])
    votes = np.zeros((len(target), num_phases + 1))
    votes[np.arange(len(target)), np.where(label == BACKGROUND_LABEL, num_phases, label)] = 1.0
    return votes


def state_means(videos: Mapping[str, np.ndarray], states: Mapping[str, np.ndarray], count: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Per state ``0 .. count - 1``, the mean over the videos of each video's mean frame in it:
    ``(count, D)`` unit-length rows (a zero row for a state no video has) and ``(count,)`` how many
    videos have a frame in each. Frames of any other label (background, dropped, unlabelled) are
    left out. Every video weighs the same, so what all of a video's frames share (its scene, its
    light) is in every row alike, and a video long in one state does not outweigh the others there.

    Args:
        videos: ``{video_id: (T, D) unit-length embeddings}``; states: ``{video_id: (T,) ints}``.
    """
    sums, videos_in = np.zeros((count, next(iter(videos.values())).shape[1])), np.zeros(count, dtype=np.int64)
    for video_id, frames in videos.items():
        labels = np.asarray(states[video_id])
        kept = (labels >= 0) & (labels < count)
        per_state = np.zeros_like(sums)
        np.add.at(per_state, labels[kept], frames[kept])
        frames_in = np.bincount(labels[kept], minlength=count)
        sums += per_state / np.maximum(frames_in, 1)[:, None]
        videos_in += frames_in > 0
    return normalised(sums), videos_in


def phase_means(sources: Mapping[str, tuple[np.ndarray, np.ndarray]], num_phases: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """The template of the phases: ``(Q, D)`` unit-length mean embeddings of the ``Q`` phases that
    have a labelled frame, in phase order (``state_means`` of the labelled videos' phases), and
    ``(Q,)`` their phase numbers."""
    rows, videos_in = state_means({v: e for v, (e, _) in sources.items()},
                                  {v: labels for v, (_, labels) in sources.items()}, num_phases)
    present = np.flatnonzero(videos_in)
    return rows[present], present


def propagate(targets: Mapping[str, np.ndarray], labelled: Mapping[str, tuple[np.ndarray, np.ndarray]],
              num_phases: int, method: str = "dtw", temperature: float = 0.1, drop_percentile: float = 95.0,
              band_radius: int = 32, max_cells: int = 4_000_000, drop_scale: float = 3.0,
              phase_template: bool = True) -> dict[str, dict[str, np.ndarray | list]]:
    """Phase labels for ``targets`` from the ``labelled`` videos.

    Args:
        targets: ``{video_id: (T, D) embeddings}`` of the videos to label.
        labelled: ``{video_id: ((N, D) embeddings, (N,) int phases)}``: -1 for a frame without a
            label (it does not vote), ``BACKGROUND_LABEL`` for background.
        num_phases: the number of phases (phase numbers are ``0 .. num_phases - 1``).
        method: one of ``METHODS`` (see the module docstring).
        temperature: the softmax temperature of the cosine similarities (``nn`` and the confidence).
        drop_percentile, drop_scale: ``drop_dtw``'s drop cost (module docstring).
        band_radius, max_cells: ``align``'s band for long videos.
        phase_template: ``drop_dtw``: the phases of the frames kept re-decided by aligning them to
            the labelled videos' mean phase embeddings (module docstring); False: the votes' phases.

    Returns:
        ``{video_id: {"phase": (T,) int64 (``BACKGROUND_LABEL`` for background), "confidence":
        (T,) float32, "sources": [per frame, the labelled videos that voted for the chosen
        label; where none did (the template chose the phase), those that show the phase]}}``.

    Raises:
        ValueError: an unknown method, no labelled video, or no labelled video with a phase frame.
    """
    check_choice("label propagation method", method, list(METHODS))
    if not labelled:
        raise ValueError("no labelled video to propagate labels from")
    sources, backgrounds = {}, []
    for video_id, (embeddings, labels) in labelled.items():
        labels = np.asarray(labels, dtype=np.int64)
        embeddings = normalised(np.asarray(embeddings))
        backgrounds.append(embeddings[labels == BACKGROUND_LABEL])
        if (labels >= 0).any():  # a video of background examples only still informs the confidence
            keep = labels != -1
            sources[video_id] = (embeddings[keep], labels[keep])
    if not sources:
        raise ValueError("no labelled video has a frame of a phase (background alone)")
    background = np.concatenate(backgrounds)
    if method == "auto":
        method = "drop_dtw" if len(background) else "dtw"
    template = phase_means(sources, num_phases) if method == "drop_dtw" and phase_template else None
    # per phase, the labelled videos that show it: the sources of a frame no single vote chose
    # (the template's choice, or the sum of nn's soft votes), found once rather than per frame
    showing = {phase: [v for v, (_, labels) in sources.items() if (labels == phase).any()]
               for phase in range(num_phases)}
    out = {}
    for video_id, embeddings in targets.items():
        target = normalised(embeddings)
        votes, mass, voted = np.zeros((len(target), num_phases + 1)), np.zeros((len(target), num_phases + 1)), []
        for source_id, (source, labels) in sources.items():
            phase_frames = labels >= 0
            drop = None
            if method == "drop_dtw":
                drop = drop_costs(target, source[phase_frames], drop_percentile, drop_scale)
            soft = _soft_mass(target, source[phase_frames], labels[phase_frames], background, num_phases, temperature,
                              drop)
            if method == "nn":
                vote = soft
            elif method == "dtw":  # today's: the phase frames only, every target frame matched
                vote = _aligned_votes(target, source[phase_frames], labels[phase_frames], num_phases, None,
                                      band_radius, max_cells)
            else:  # the whole labelled video, background in its place, target frames droppable
                vote = _aligned_votes(target, source, labels, num_phases, drop, band_radius, max_cells)
            votes += vote
            mass += soft
            voted.append((source_id, vote.argmax(axis=1)))
        choice = votes.argmax(axis=1)
        if template is not None:
            choice = _template_phases(target, choice, template, num_phases, band_radius, max_cells)
        confidence = mass[np.arange(len(target)), choice] / len(sources)
        agreeing = [[source_id for source_id, c in voted if c[t] == choice[t]] for t in range(len(target))]
        for t in np.flatnonzero([not a for a in agreeing]):  # the template chose: who made its row
            agreeing[t] = list(showing.get(choice[t], []))
        phase = np.where(choice == num_phases, BACKGROUND_LABEL, choice)
        out[video_id] = {"phase": phase.astype(np.int64), "confidence": confidence.astype(np.float32),
                         "sources": agreeing}
    return out


def _template_phases(target: np.ndarray, choice: np.ndarray, template: tuple[np.ndarray, np.ndarray],
                     num_phases: int, band_radius: int, max_cells: int) -> np.ndarray:
    """``(T,)`` the votes' ``choice`` (phase numbers, ``num_phases`` for background) with each frame
    kept as a phase given the phase of the ``template`` row it is matched with when the kept frames
    are aligned, in order, to the rows (``phase_means``); background stays. Where fewer frames are
    kept than the template has phases, the votes stand."""
    rows, phases = template
    kept = np.flatnonzero(choice < num_phases)
    if len(kept) < len(rows):
        return choice
    choice = choice.copy()
    choice[kept] = phases[align(target[kept], rows, None, band_radius=band_radius, max_cells=max_cells).matches]
    return choice


def _soft_mass(target: np.ndarray, source: np.ndarray, phases: np.ndarray, background: np.ndarray,
               num_phases: int, temperature: float, drop: np.ndarray | None) -> np.ndarray:
    """``(T, P + 1)``: per frame, the softmax weight of each phase and of background (the last
    column: the labelled background frames, and under Drop-DTW a virtual frame of similarity
    ``1 - drop cost``), computed in chunks of frames (linear memory in long videos)."""
    out = np.zeros((len(target), num_phases + 1))
    for start in range(0, len(target), 2048):
        chunk = target[start:start + 2048]
        columns = [chunk @ source.T, chunk @ background.T]
        labels = [phases, np.full(len(background), num_phases)]
        if drop is not None:
            columns.append(1.0 - drop[start:start + 2048, None])
            labels.append(np.array([num_phases]))
        out[start:start + 2048] = _softmax_phase_mass(np.concatenate(columns, axis=1), np.concatenate(labels),
                                                       num_phases + 1, temperature)
    return out


def relative_time_labels(num_frames: int, labelled: Mapping[str, np.ndarray], num_phases: int) -> np.ndarray:
    """``(num_frames,)`` labels: each frame takes the labelled videos' label (a phase, or
    ``BACKGROUND_LABEL``) at its relative time (the centre of frame t is at (t + 0.5) /
    num_frames), the most common across them (frames of theirs without a label do not vote)."""
    votes = np.zeros((num_frames, num_phases + 1))
    centres = (np.arange(num_frames) + 0.5) / num_frames
    for phases in labelled.values():
        phases = np.asarray(phases, dtype=np.int64)
        at = phases[np.minimum((centres * len(phases)).astype(int), len(phases) - 1)]
        has = at != -1
        votes[np.flatnonzero(has), np.where(at[has] == BACKGROUND_LABEL, num_phases, at[has])] += 1
    choice = votes.argmax(axis=1)
    return np.where(choice == num_phases, BACKGROUND_LABEL, choice).astype(np.int64)


def accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    """The fraction of frames with a true label (a phase >= 0, or ``BACKGROUND_LABEL``: background
    counts as a class) given that label."""
    truth = np.asarray(truth)
    known = truth != -1
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
