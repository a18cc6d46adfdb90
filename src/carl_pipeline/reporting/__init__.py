"""Figures and videos that show a run's results. No Kedro imports."""

from carl_pipeline.reporting.library import phase_timeline_figure, search_sheet
from carl_pipeline.reporting.lineage import lineage_figure, lineage_layers
from carl_pipeline.reporting.plots import (
    alignment_frames,
    comparison_figure,
    metrics_figure,
    pick_pair,
    projection_figure,
    report_figures,
    report_view,
    retrieval_frames,
    retrieval_sheet,
    similarity_figure,
)

__all__ = ["lineage_figure", "lineage_layers", "alignment_frames", "comparison_figure", "metrics_figure", "phase_timeline_figure", "pick_pair", "projection_figure", "report_figures", "report_view", "retrieval_frames",
           "retrieval_sheet", "search_sheet", "similarity_figure"]
