"""Deterministic synthetic videos in each dataset's raw layout (the embedded demo data)."""

from carl_pipeline.synthetic.generate import (
    generate_all,
    generate_finegym,
    generate_penn_action,
    generate_pouring,
)

__all__ = ["generate_all", "generate_finegym", "generate_penn_action", "generate_pouring"]
