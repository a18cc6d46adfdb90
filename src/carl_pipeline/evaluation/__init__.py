"""The evaluation protocol of TCC and CARL on frozen frame embeddings. No Kedro imports."""

from carl_pipeline.evaluation.alignment import (
           alignment_pair_counts,
           dtw_path,
           kendalls_tau,
           kendalls_tau_ceiling,
           retrieval_ap,
)
from carl_pipeline.evaluation.finegym import finegym_accuracy, train_linear_probe
from carl_pipeline.evaluation.phases import (
           phase_classification,
           phase_progression,
           progression_targets,
)
from carl_pipeline.evaluation.progress import (
           LOWER_IS_BETTER,
           online_progress_error,
           oriented,
           path_length,
           progress_baselines,
           true_progress,
)
from carl_pipeline.evaluation.protocol import (
           TRAINED,
           EvalConfig,
           alignment_breakdown,
           evaluate_table,
           label_alignment_tau,
           phase_coordinates,
           progress_reference,
           tau_ceiling,
           trained_scores,
)

__all__ = ["TRAINED", "trained_scores", "EvalConfig", "alignment_breakdown", "alignment_pair_counts", "dtw_path", "evaluate_table", "finegym_accuracy", "kendalls_tau", "kendalls_tau_ceiling", "train_linear_probe", "phase_classification", "phase_progression",
           "label_alignment_tau", "phase_coordinates", "progression_targets", "retrieval_ap", "tau_ceiling",
           "LOWER_IS_BETTER", "online_progress_error", "oriented", "path_length", "progress_baselines", "progress_reference",
           "true_progress"]
