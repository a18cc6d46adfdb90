"""Phase labels by example: read and check a person's labels, carry them to other videos."""

from carl_pipeline.labels.propagate import METHODS, accuracy, propagate, relative_time_labels
from carl_pipeline.labels.reading import LabelsFileError, PhaseLabels, read_phase_labels

__all__ = ["METHODS", "LabelsFileError", "PhaseLabels", "accuracy", "propagate", "read_phase_labels",
           "relative_time_labels"]
