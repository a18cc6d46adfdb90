"""Range and choice checks of the config classes' settings, each error naming its field.

The config classes are plain dataclasses (importable without Kedro); Kedro validates them at the
node boundary through the pydantic models of ``carl_pipeline.params``, which report the block
(``train.optim``) beside the message these checks raise (``lr must be > 0, got -0.1``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

_RULES: dict[str, Callable[[float], bool]] = {
    "> 0": lambda v: v > 0,
    ">= 0": lambda v: v >= 0,
    ">= 1": lambda v: v >= 1,
    "in [0, 1]": lambda v: 0 <= v <= 1,
    "in [0, 1)": lambda v: 0 <= v < 1,
}


def check_ranges(config: Any, rules: dict[str, str]) -> None:
    """Raise ``ValueError`` naming the first field of ``config`` outside its rule.

    Args:
        config: a dataclass instance.
        rules: ``{field: rule}``, a rule one of ``> 0``, ``>= 0``, ``>= 1``, ``in [0, 1]``,
            ``in [0, 1)``; a field whose value is None is not checked (optional settings).
    """
    for name, rule in rules.items():
        value = getattr(config, name)
        if value is None or isinstance(value, bool):
            continue
        try:
            ok = math.isfinite(float(value)) and _RULES[rule](value)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"{name} must be {rule}, got {value!r}")


def check_choice(name: str, value: Any, choices: Any) -> None:
    """Raise ``ValueError`` ``"<name> must be one of <choices>, got <value>"`` unless ``value`` is one
    of ``choices`` (the one rule for every setting that takes a name from a list)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
