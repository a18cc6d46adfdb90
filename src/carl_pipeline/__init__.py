"""carl_pipeline: frame-wise action representations of long videos with CARL, as a Kedro project."""

__version__ = "0.1.0"
