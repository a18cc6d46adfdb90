"""Project settings (Kedro defaults, plus soft merging so that ``--env paper`` changes only
the parameters it names)."""

from kedro.config import OmegaConfigLoader
from omegaconf import OmegaConf

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "merge_strategy": {"parameters": "soft", "globals": "soft"},
    # ${merge:${globals:train},{key: value}}: a shared block with a few values changed. It returns a
    # config node, not a dict, so that runtime parameters (`kedro run --params`) merge into the
    # block key by key instead of replacing it whole.
    "custom_resolvers": {"merge": OmegaConf.merge},
    # conf/<env>/tracking.yml: MLflow experiment tracking (carl_pipeline.hooks)
    "config_patterns": {"tracking": ["tracking*", "tracking*/**"]},
}

# Under torchrun only rank 0 writes outputs; the other ranks keep theirs in memory.
from carl_pipeline.datasets.catalog import RankZeroCatalog  # noqa: E402
from carl_pipeline.hooks import MlflowTrackingHook  # noqa: E402

DATA_CATALOG_CLASS = RankZeroCatalog

HOOKS = (MlflowTrackingHook(),)

# Kedro 1.7 registers its own OmegaConf resolvers through a call OmegaConf now deprecates; the
# warning is about Kedro's internals and says nothing a user of this project can act on.
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
# FineGym's two taxonomy namespaces read one ingestion (`finegym.frame_store`, ...) through Kedro's
# input mapping; Kedro then warns about the '.' of the namespace in those names.
warnings.filterwarnings("ignore", message=r"One or more dataset names contain '\.' characters")
