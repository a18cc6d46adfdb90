"""CARL's frame-level video encoder and its backbones (plain torch, no Kedro imports)."""

from carl_pipeline.models.backbone import (
           BackboneWeightsError,
           build_resnet,
           load_backbone_weights,
)
from carl_pipeline.models.encoder import (
           CARLEncoder,
           EncoderConfig,
           build_backbone,
           describe,
           normalize_input,
           sincos_position_encoding,
           standardize_frames,
)

__all__ = ["BackboneWeightsError", "CARLEncoder", "EncoderConfig", "build_backbone", "build_resnet", "describe",
           "load_backbone_weights", "normalize_input", "sincos_position_encoding", "standardize_frames"]
