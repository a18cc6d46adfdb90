"""Phase classification and phase progression on frozen frame embeddings (TCC/CARL protocol)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.svm import SVC

from carl_pipeline.checks import check_choice

#: The phase classifiers (``phase_classification``).
CLASSIFIERS = ("logistic", "logistic_multinomial", "svm")


def _labelled(embeddings: Sequence[np.ndarray], labels: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.concatenate(embeddings), np.concatenate(labels)
    keep = y >= 0  # -1: unlabelled frames are neither trained on nor scored
    return x[keep], y[keep]


def phase_classification(
    train_embeddings: Sequence[np.ndarray], train_labels: Sequence[np.ndarray],
    val_embeddings: Sequence[np.ndarray], val_labels: Sequence[np.ndarray],
    fractions: Sequence[float] = (0.1, 0.5, 1.0), classifier: str = "logistic_multinomial",
) -> dict[float, float]:
    """Per-frame validation accuracy of a classifier trained on the first ``fraction`` of the
    training videos (at least one), for each fraction.

    ``classifier``:

    - ``"logistic"``: scikit-learn's ``LogisticRegression`` (lbfgs, C = 1, ``max_iter`` 10,000): a
      softmax over the phases, and for two phases the binary logistic regression;
    - ``"logistic_multinomial"``: CARL's released fit, ``LogisticRegression(max_iter=100000,
      solver='lbfgs', multi_class='multinomial')``, a softmax with one weight vector per phase also
      for two phases. Its penalty then falls on two vectors whose difference is the binary one
      (at the optimum ``w_1 = -w_0``), so it equals the binary fit with C = 2: that is how it is
      fitted here, as scikit-learn no longer has ``multi_class``;
    - ``"svm"``: an RBF SVM with C = 1 (TCC's).
    """
    check_choice("classifier", classifier, CLASSIFIERS)
    x_val, y_val = _labelled(val_embeddings, val_labels)
    scores = {}
    for fraction in fractions:
        used = max(1, int(fraction * len(train_embeddings)))
        x, y = _labelled(train_embeddings[:used], train_labels[:used])
        num_classes = len(np.unique(y))
        if num_classes < 2:  # one phase only: every frame gets it
            scores[fraction] = float(np.mean(y_val == y[0])) if len(y) else float("nan")
            continue
        model = _classifier(classifier, num_classes)
        model.fit(x, y)
        scores[fraction] = float(model.score(x_val, y_val))
    return scores


def _classifier(name: str, num_classes: int):
    if name == "logistic":
        return LogisticRegression(max_iter=10_000)
    if name == "logistic_multinomial":
        return LogisticRegression(max_iter=100_000, C=2.0 if num_classes == 2 else 1.0)
    return SVC(C=1.0, kernel="rbf")


def progression_targets(labels: np.ndarray, num_phases: int) -> np.ndarray:
    """Signed distance of each frame to each phase boundary, as a fraction of the video length.

    Boundary ``p`` (for ``p < num_phases - 1``) is the last frame whose phase is <= p (the last
    frame of phase p when it is present). Returns ``(num_frames, num_phases - 1)``.
    """
    labels = np.asarray(labels)
    frames = np.arange(len(labels), dtype=np.float64)
    columns = []
    for phase in range(num_phases - 1):
        before = np.flatnonzero((labels >= 0) & (labels <= phase))
        boundary = before[-1] if before.size else -1
        columns.append((frames - boundary) / len(labels))
    return np.stack(columns, axis=1)


def phase_progression(
    train_embeddings: Sequence[np.ndarray], train_labels: Sequence[np.ndarray],
    val_embeddings: Sequence[np.ndarray], val_labels: Sequence[np.ndarray], num_phases: int,
    regressor=LinearRegression,
) -> float:
    """R^2 on the validation videos of a linear regression from the embedding to the signed
    distances to every phase boundary (``progression_targets``), averaged over boundaries.

    ``regressor``: a callable making a fresh scikit-learn regressor (the protocol's, as released:
    least squares); other ones are for diagnostics (``experiments/progression_regression.py``)."""
    if num_phases < 2:
        raise ValueError("phase progression needs at least two phases")
    x = np.concatenate(train_embeddings)
    y = np.concatenate([progression_targets(lab, num_phases) for lab in train_labels])
    x_val = np.concatenate(val_embeddings)
    y_val = np.concatenate([progression_targets(lab, num_phases) for lab in val_labels])
    scores = [regressor().fit(x, y[:, c]).score(x_val, y_val[:, c]) for c in range(y.shape[1])]
    return float(np.mean(scores))
