"""MetaEmbed encoders: meta tokens over a backbone, with budget-sliceable multi-vector outputs."""

from .base import BackboneAdapter
from .config import MetaEmbedConfig
from .errors import ModelLoadError
from .inputs import EncoderInput
from .metaembed import MetaEmbed

__all__ = ["BackboneAdapter", "EncoderInput", "MetaEmbed", "MetaEmbedConfig", "ModelLoadError"]
