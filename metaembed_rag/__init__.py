"""metaembed-rag: MetaEmbed multi-vector retrieval with test-time budgets, for RAG over PDFs."""

from .budget import LADDER, Budget
from .model import MetaEmbed, MetaEmbedConfig

__all__ = ["LADDER", "Budget", "MetaEmbed", "MetaEmbedConfig"]
__version__ = "0.1.0"
