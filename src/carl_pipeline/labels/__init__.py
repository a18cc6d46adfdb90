"""Phase labels by example: read and check a person's labels, carry them to other videos."""

from carl_pipeline.labels.propagate import METHODS, accuracy, propagate, relative_time_labels
from carl_pipeline.labels.reading import (
    BACKGROUND,
    BACKGROUND_LABEL,
    LabelsFileError,
    PhaseLabels,
    label_name,
    read_phase_labels,
)
from carl_pipeline.labels.tables import discovered_table, labels_table, propagated_table

__all__ = ["discovered_table", "labels_table", "propagated_table", "BACKGROUND", "BACKGROUND_LABEL", "METHODS", "LabelsFileError", "PhaseLabels", "accuracy", "label_name",
           "propagate", "read_phase_labels", "relative_time_labels"]
