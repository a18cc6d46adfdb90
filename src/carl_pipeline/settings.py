"""Project settings (Kedro defaults, plus soft merging so that ``--env paper`` changes only
the parameters it names)."""

from kedro.config import OmegaConfigLoader
from omegaconf import OmegaConf

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "merge_strategy": {"parameters": "soft", "globals": "soft"},
    # ${merge:${_template},{key: value}}: a shared block with a few values changed.
    "custom_resolvers": {"merge": lambda *blocks: OmegaConf.to_container(OmegaConf.merge(*blocks), resolve=True)},
}

# Kedro 1.7 registers its own OmegaConf resolvers through a call OmegaConf now deprecates; the
# warning is about Kedro's internals and says nothing a user of this project can act on.
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated")
