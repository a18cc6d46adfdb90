"""Alignment of a video to a labelled one that may leave frames unmatched, in memory linear in
the videos' lengths.

Two alignments, one engine (``align``):

* **DTW** (``drop_costs=None``): every frame of both videos matched, from the first pair to the
  last, in order: right for two trimmed performances of one action.
* **Drop-DTW** (Dvornik et al., "Drop-DTW: Aligning Common Signal Between Sequences While
  Dropping Outliers", NeurIPS 2021), dropping target frames only: a target frame may be left
  unmatched at a cost (``drop_costs[t]``) instead of being matched to a source frame, so the
  action's frames (the source's) are aligned phase by phase with the part of the target that looks
  like them, and the target's frames before, between and after (background) are dropped. The
  source is matched whole, in order; the target's first and last frames need not be matched
  (open beginning and end). ``dtw-python``'s open-begin/open-end step patterns cannot drop frames
  inside the action and hold the whole cost matrix; hence this engine.

The recursion, for target frame i and source frame j (cost ``c = 1 - cos``, δ the drop cost)::

    M[i, j] = c[i, j] + min(B[i-1, j-1], B[i-1, j], M[i, j-1])   # i matched with j
    X[i, j] = δ[i] + B[i-1, j]                                    # i dropped; j frames matched so far
    B = min(M, X),   B[0, 0] = 0,   column 0: leading target frames dropped

A row is computed at once: its ``M[i, j-1]`` chain is a running minimum of prefix sums
(``M[i, j] = S[j] + min_{k<=j}(A[k] - S[k-1])``, S the row's cumulative costs), so the Python
loop runs over target frames, not cells.

**Memory linear in the lengths** (FastDTW's multiscale idea, Salvador & Chan 2007, with this
recursion): above ``max_cells`` cells the two videos are averaged pairwise to half their length,
aligned (recursively), and the path found is widened by ``band_radius`` frames at the finer scale;
only the cells of that band are computed, and only two bytes of back-pointers are kept per band
cell. Within ``max_cells`` the whole matrix is the band, and the result is exact.
``benchmarks/bench_long_alignment.py`` measures time and memory at 10^3 to 5 x 10^4 frames
against the whole-matrix DTW.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: A target frame the alignment left unmatched (``Alignment.matches``).
DROPPED = -1


@dataclass
class Alignment:
    """``matches``: ``(T,)`` the source frame each target frame is matched with (the first, where
    it is matched with several), ``DROPPED`` where it was dropped; ``cost``: the path's total
    cost; ``cells``: cells computed (the band's size); ``exact``: the whole matrix was the band."""

    matches: np.ndarray
    cost: float
    cells: int
    exact: bool


def normalised(x: np.ndarray) -> np.ndarray:
    """``(N, D)`` float64 rows of unit length (the cosine is then a dot product)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _halved(x: np.ndarray) -> np.ndarray:
    """``(ceil(T / 2), D)``: consecutive pairs averaged (a last odd frame kept)."""
    pairs = x[: len(x) // 2 * 2].reshape(-1, 2, x.shape[1]).mean(axis=1)
    return np.concatenate([pairs, x[len(x) // 2 * 2:]]) if len(x) % 2 else pairs


def _band(first: np.ndarray, last: np.ndarray, n: int, m: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Per fine row 1..n, the band ``[lo, hi]`` (1-based columns) around a coarse path given as
    each coarse row's column range ``[first, last]`` (1-based), widened by ``radius``, monotone."""
    rows = np.arange(n) // 2
    lo = 2 * first[rows] - 1 - radius  # coarse column J covers fine columns 2J - 1 and 2J
    hi = 2 * last[rows] + radius
    lo = np.minimum.accumulate(lo[::-1])[::-1]
    hi = np.maximum.accumulate(hi)
    return np.clip(lo, 1, m).astype(np.int64), np.clip(hi, 1, m).astype(np.int64)


def _solve(target: np.ndarray, source: np.ndarray, drop: np.ndarray | None, lo: np.ndarray, hi: np.ndarray,
           skip_head: int = 0, skip_tail: int = 0) -> tuple[np.ndarray, float]:
    """The recursion of the module docstring over the band ``lo..hi`` (per row, 1-based); the
    path may start after the source's first ``skip_head`` frames and end within its last
    ``skip_tail`` (``B[0, j] = 0`` for ``j <= skip_head``; the best of the last row's final
    ``skip_tail + 1`` columns)."""
    n, m = len(target), len(source)
    offsets = np.concatenate([[0], np.cumsum(hi - lo + 1)])
    move = np.zeros(offsets[-1], dtype=np.int8)      # M came from 0: B[i-1,j-1], 1: B[i-1,j], 2: M[i,j-1]
    is_drop = np.zeros(offsets[-1], dtype=np.bool_)  # B is X (the frame dropped), not M
    previous = np.full(m + 1, np.inf)                # B[i-1, :]: column 0 and the previous row's band
    previous[:skip_head + 1] = 0.0                   # B[0, j]: the source's first j frames skipped
    prev_lo, prev_hi = 1, skip_head
    for i in range(1, n + 1):
        a, b = int(lo[i - 1]), int(hi[i - 1])
        cost = 1.0 - source[a - 1:b] @ target[i - 1]
        diagonal, up = previous[a - 1:b], previous[a:b + 1]
        from_above = np.minimum(diagonal, up)
        sums = np.cumsum(cost)
        start = from_above - np.concatenate([[0.0], sums[:-1]])
        running = np.minimum.accumulate(start)
        matched = sums + running
        move[offsets[i - 1]:offsets[i]] = np.where(running < start, 2, np.where(up < diagonal, 1, 0))
        if drop is not None:
            dropped = drop[i - 1] + up
            chosen = dropped < matched
            is_drop[offsets[i - 1]:offsets[i]] = chosen
            best = np.where(chosen, dropped, matched)
            column0 = previous[0] + drop[i - 1]  # every target frame so far dropped
        else:
            best, column0 = matched, np.inf
        previous[prev_lo:prev_hi + 1] = np.inf
        previous[0] = column0
        previous[a:b + 1] = best
        prev_lo, prev_hi = a, b
    ends = np.arange(max(m - skip_tail, int(lo[n - 1]), 1), m + 1)
    end = int(ends[np.argmin(previous[ends])])  # the first of equals: the longest match of the source
    total = float(previous[end])
    if not np.isfinite(total):
        raise ValueError("no alignment path within the band (it does not reach the last frames)")

    def dropped_at(i: int, j: int) -> bool:
        return bool(drop is not None and lo[i - 1] <= j <= hi[i - 1] and is_drop[offsets[i - 1] + j - lo[i - 1]])

    matches = np.full(n, DROPPED, dtype=np.int64)
    i, j = n, end
    state_dropped = dropped_at(i, j)
    while i > 0 and j > 0:  # j == 0: the leading target frames, all dropped
        if state_dropped:
            i -= 1
            state_dropped = i > 0 and dropped_at(i, j)
            continue
        matches[i - 1] = j - 1  # walking backwards, the last write is the row's first match
        step = move[offsets[i - 1] + j - lo[i - 1]]
        if step == 2:
            j -= 1
            continue
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j)
        state_dropped = i > 0 and j > 0 and dropped_at(i, j)
    return matches, total


def _rows_path(matches: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a path, the columns (1-based) it spans: from its first match (a dropped row:
    the last column matched before it) to the next row's."""
    column = np.maximum(np.maximum.accumulate(np.where(matches >= 0, matches + 1, 0)), 1)
    return column, np.concatenate([column[1:], [m]])


def align(target: np.ndarray, source: np.ndarray, drop_costs: np.ndarray | None = None, *,
          max_cells: int = 4_000_000, band_radius: int = 32, skip_head: int = 0, skip_tail: int = 0) -> Alignment:
    """Align ``target`` ``(T, D)`` to ``source`` ``(S, D)`` embeddings (cosine cost).

    Args:
        drop_costs: ``(T,)`` the cost of leaving each target frame unmatched (Drop-DTW); None:
            DTW, every frame matched.
        skip_head, skip_tail: the source's first and last frames that need not be matched (a
            labelled video's leading and trailing background: the target may have less of it).
        max_cells: above ``T x S`` cells, align at half the length first and compute only a
            band around that path (memory and time linear in ``T + S``).
        band_radius: the band's half-width, in frames, around the coarser path.

    Raises:
        ValueError: an empty video, or embeddings of different widths.
    """
    target, source = normalised(target), normalised(source)
    n, m = len(target), len(source)
    if n == 0 or m == 0:
        raise ValueError(f"cannot align an empty video ({n} and {m} frames)")
    if target.shape[1] != source.shape[1]:
        raise ValueError(f"embeddings of {target.shape[1]} and {source.shape[1]} dimensions")
    drop = None if drop_costs is None else np.asarray(drop_costs, dtype=np.float64)
    if n * m <= max_cells or min(n, m) <= 2 * band_radius:
        lo, hi = np.ones(n, dtype=np.int64), np.full(n, m, dtype=np.int64)
        matches, total = _solve(target, source, drop, lo, hi, skip_head, skip_tail)
        return Alignment(matches, total, n * m, True)
    coarse_drop = None if drop is None else _halved(drop[:, None])[:, 0]
    coarse = align(_halved(target), _halved(source), coarse_drop, max_cells=max_cells, band_radius=band_radius,
                   skip_head=skip_head // 2, skip_tail=skip_tail // 2)
    first, last = _rows_path(coarse.matches, (m + 1) // 2)
    lo, hi = _band(first, last, n, m, band_radius)
    matches, total = _solve(target, source, drop, lo, hi, skip_head, skip_tail)
    return Alignment(matches, total, int((hi - lo + 1).sum()) + coarse.cells, False)
