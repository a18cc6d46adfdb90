"""Kendall's tau of nearest-neighbour alignment, fine-grained retrieval AP@K, and DTW."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
from scipy.spatial.distance import cdist
from scipy.stats import kendalltau


def _nearest_matches(embeddings: Sequence[np.ndarray], stride: int, distance: str) -> Iterator[np.ndarray]:
    """For every ordered pair (i, j), i != j, of videos subsampled every ``stride``-th frame: the
    index of each of video i's frames' nearest frame in video j, ``(num_frames_i,)``."""
    sampled = [np.asarray(e)[::stride] for e in embeddings]
    for i, query in enumerate(sampled):
        for j, candidates in enumerate(sampled):
            if i != j:
                yield np.argmin(cdist(query, candidates, distance), axis=1)


def kendalls_tau(embeddings: Sequence[np.ndarray], stride: int = 5, distance: str = "sqeuclidean") -> float:
    """Mean Kendall's tau of nearest-neighbour alignment over ordered pairs of videos.

    For every ordered pair (i, j), i != j: each of video i's frames (every ``stride``-th) is matched
    to its nearest frame of video j (every ``stride``-th); tau compares the matched indices with
    the query order. Pairs whose tau is undefined (a constant match) are dropped.

    Args:
        embeddings: one ``(num_frames, D)`` array per video.
        stride: frame subsampling (paper: 5 Pouring, 2 Penn Action).
        distance: any ``scipy.spatial.distance.cdist`` metric (paper: squared Euclidean).

    Returns:
        Mean tau in [-1, 1]; NaN when no pair has a defined tau.
    """
    if len(embeddings) < 2:
        raise ValueError(f"Kendall's tau needs at least 2 videos, got {len(embeddings)}")
    taus = [kendalltau(np.arange(len(nearest)), nearest).statistic
            for nearest in _nearest_matches(embeddings, stride, distance)]
    taus = np.asarray(taus, dtype=np.float64)
    taus = taus[~np.isnan(taus)]
    return float(taus.mean()) if taus.size else float("nan")


def kendalls_tau_ceiling(num_frames: Sequence[int], stride: int = 5) -> float:
    """The highest ``kendalls_tau`` that any alignment of videos of these lengths can score.

    Tau-b of a pair of videos is ``(C - D) / sqrt(n0 (n0 - T))`` over the ``n0`` pairs of query
    frames, with ``C`` matched in order, ``D`` out of order and ``T`` matched onto one frame
    (``C + D + T = n0``). With ``D = 0`` it is ``sqrt(1 - T / n0)``, so the best alignment keeps
    every match in order and ties as few pairs as it can: ``n`` query frames spread as evenly as
    possible over ``m`` candidates (``n mod m`` candidates get ``ceil(n / m)`` queries, the rest
    ``floor(n / m)``), which is what matching by relative time alone does. When ``n <= m`` that is
    no tie and tau 1. An out-of-order match only lowers it further: it takes a pair from ``C``
    and cannot remove a tie that the counts force. So a video pair's ceiling depends on the two
    lengths only, and an encoder whose embedding is the frame's relative time (an untrained
    transformer's position encoding) scores it: no encoder, however good, can score more.

    Args:
        num_frames: each validation video's number of frames (those ``kendalls_tau`` embeds).
        stride: the same frame subsampling as ``kendalls_tau``.

    Returns:
        The ceiling, averaged over ordered pairs of videos as ``kendalls_tau`` averages (pairs
        whose tau is undefined, a video with one sampled frame, are dropped as there).
    """
    if len(num_frames) < 2:
        raise ValueError(f"Kendall's tau needs at least 2 videos, got {len(num_frames)}")
    sampled = [len(range(0, int(n), stride)) for n in num_frames]
    ceilings = []
    for i, n in enumerate(sampled):
        for j, m in enumerate(sampled):
            if i == j or n < 2 or m < 2:
                continue
            per_candidate, extra = divmod(n, m)
            ties = extra * math.comb(per_candidate + 1, 2) + (m - extra) * math.comb(per_candidate, 2)
            pairs = math.comb(n, 2)
            ceilings.append(math.sqrt(1 - ties / pairs))
    return float(np.mean(ceilings)) if ceilings else float("nan")


def alignment_pair_counts(embeddings: Sequence[np.ndarray], stride: int = 5,
                          distance: str = "sqeuclidean") -> dict[str, float]:
    """What Kendall's tau is made of: over every ordered pair of videos and every pair of query
    frames (as ``kendalls_tau`` samples them), the fraction whose nearest neighbours keep their
    order (``concordant``), swap it (``discordant``: an alignment error) or coincide (``tied``:
    two query frames matched to one frame, which tau-b also counts against a pair).

    A correct alignment between videos whose phases last different times has ties and no
    discordant pairs; an embedding of relative time alone has the fewest ties. So the two
    fractions separate alignment errors from the metric's penalty on uneven phase lengths.

    Returns:
        ``{"concordant", "discordant", "tied"}``, summing to 1.
    """
    if len(embeddings) < 2:
        raise ValueError(f"an alignment needs at least 2 videos, got {len(embeddings)}")
    counts = np.zeros(3, dtype=np.int64)
    for nearest in _nearest_matches(embeddings, stride, distance):
        later = np.sign(nearest[None, :] - nearest[:, None])[np.triu_indices(len(nearest), k=1)]
        counts += [(later > 0).sum(), (later < 0).sum(), (later == 0).sum()]
    total = max(int(counts.sum()), 1)
    return dict(zip(("concordant", "discordant", "tied"), (counts / total).tolist(), strict=True))


def retrieval_ap(embeddings: Sequence[np.ndarray], labels: Sequence[np.ndarray], k: int, stride: int = 5,
                 distance: str = "sqeuclidean") -> float:
    """Fine-grained frame retrieval AP@K: the fraction of each query frame's K nearest frames in
    the other videos that share its phase, averaged over query frames, then over videos.

    Args:
        embeddings: one ``(num_frames, D)`` array per video.
        labels: one ``(num_frames,)`` label array per video.
        k: number of retrieved frames (paper: 5, 10, 15).
        stride: frame subsampling of queries and candidates.
    """
    if len(embeddings) != len(labels) or len(embeddings) < 2:
        raise ValueError("retrieval needs at least 2 videos and one label array per video")
    embeddings = [np.asarray(e)[::stride] for e in embeddings]
    labels = [np.asarray(lab)[::stride] for lab in labels]
    precisions = []
    for i, (query, query_labels) in enumerate(zip(embeddings, labels, strict=True)):
        candidates = np.concatenate([e for j, e in enumerate(embeddings) if j != i])
        candidate_labels = np.concatenate([lab for j, lab in enumerate(labels) if j != i])
        top = np.argsort(cdist(query, candidates, distance), axis=1, kind="stable")[:, :k]
        precisions.append(np.mean(candidate_labels[top] == query_labels[:, None]))
    return float(np.nanmean(precisions))


def dtw_path(a: np.ndarray, b: np.ndarray, distance: str = "sqeuclidean") -> np.ndarray:
    """Dynamic time warping between two embedding sequences.

    Returns:
        ``(L, 2)`` int array of matched frame pairs ``(i, j)`` from ``(0, 0)`` to the last frames,
        each step advancing i, j or both.
    """
    cost = cdist(a, b, distance)
    n, m = cost.shape
    total = np.full((n + 1, m + 1), np.inf)
    total[0, 0] = 0.0
    # One anti-diagonal (i + j = d) at a time: its cells depend only on the two before it, so
    # each is one vectorised step (the same sums and minima as cell by cell, bit for bit).
    for d in range(2, n + m + 1):
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        total[i, j] = cost[i - 1, j - 1] + np.minimum(np.minimum(total[i - 1, j - 1], total[i - 1, j]), total[i, j - 1])
    path, i, j = [], n, m
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = np.argmin([total[i - 1, j - 1], total[i - 1, j], total[i, j - 1]])
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return np.asarray(path[::-1], dtype=np.int64)
