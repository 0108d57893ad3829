"""Saving and loading MetaEmbed models: our folder format, LoRA, and official checkpoints.

Our format (a Hugging Face-style folder)::

    metaembed_config.json     MetaEmbedConfig
    metaembed.safetensors     meta_embeddings.weight, projection.{weight,bias}
    lora/                     PEFT LoRA adapter on the backbone (if any)
    processor/                tokenizer / image processor
    backbone/                 backbone weights, only when they cannot be referenced

The official facebookresearch/MetaEmbed training code stores ``prompt_embed_tokens.weight``,
``custom_text_proj.{weight,bias}`` and a PEFT LoRA adapter; ``load_official`` maps those.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors.torch import load_file, save_file

from .config import CONFIG_NAME, MetaEmbedConfig
from .errors import ModelLoadError
from .registry import adapter_class
from .sources import PACKAGED_BACKBONES, looks_like_path, resolve_backbone

if TYPE_CHECKING:
    from .metaembed import MetaEmbed

__all__ = ["add_lora", "load_official", "load_pretrained", "save_pretrained"]

WEIGHTS_NAME = "metaembed.safetensors"
#: Registered names of models that ship inside this package.
BUNDLED_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


def _is_peft(module: Any) -> bool:
    """Whether ``module`` is a PEFT-wrapped backbone; never imports peft (it costs ~1 s), since
    nothing can be wrapped by PEFT before peft is imported."""
    peft = sys.modules.get("peft")
    return peft is not None and isinstance(module, peft.PeftModel)


def add_lora(model: MetaEmbed, *, r: int = 32, alpha: int = 32, dropout: float = 0.1,
             target_modules: list[str] | str | None = None) -> None:
    """Wrap the backbone with a LoRA adapter (the official recipe: r=32, α=32, dropout 0.1)."""
    from peft import LoraConfig, get_peft_model

    if _is_peft(model.adapter.backbone):
        raise ValueError("this model already has a LoRA adapter; merge_lora() it first to add another")
    targets = target_modules or model.adapter.lora_target_modules
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets)
    model.adapter.backbone = get_peft_model(model.adapter.backbone, config)
    model.config.lora = {"r": r, "alpha": alpha, "dropout": dropout, "target_modules": targets}


def save_pretrained(model: MetaEmbed, directory: str | Path, *, save_backbone: bool | None = None) -> Path:
    """Write ``model`` to ``directory``. The backbone weights are saved only if asked, or when
    the config's backbone reference does not resolve to a folder on this machine."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if save_backbone is None:
        try:
            resolve_backbone(model.config.backbone)
            save_backbone = False
        except OSError:
            save_backbone = True
    tensors = {"meta_embeddings.weight": model.meta_embeddings.weight}
    if model.projection is not None:
        tensors["projection.weight"] = model.projection.weight
        tensors["projection.bias"] = model.projection.bias
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(out / WEIGHTS_NAME))
    backbone = model.adapter.backbone
    if _is_peft(backbone):
        backbone.save_pretrained(str(out / "lora"))
        base = backbone.get_base_model()
    else:
        base = backbone
    model.adapter.save(out / "processor", weights=False)
    if save_backbone:
        base.save_pretrained(str(out / "backbone"), state_dict=_without_lora(base.state_dict()))
    model.config.adapter_options = model.adapter.options()
    model.config.save(out)
    return out


def _without_lora(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The plain backbone's weights: PEFT renames wrapped layers to ``*.base_layer.*`` and adds
    ``lora_*`` tensors, which live in ``lora/`` instead."""
    return {k.replace(".base_layer.", "."): v for k, v in state.items() if ".lora_" not in k}


def _model_folder(name_or_path: str | Path) -> Path:
    path = Path(name_or_path).expanduser()
    if (path / CONFIG_NAME).is_file():
        return path
    bundled = BUNDLED_MODELS_DIR / str(name_or_path)
    if (bundled / CONFIG_NAME).is_file():
        return bundled
    if path.is_dir():
        raise OSError(f"{path} is not a MetaEmbed model folder: it has no {CONFIG_NAME}")
    name = str(name_or_path)
    if name in PACKAGED_BACKBONES:
        raise OSError(
            f"{name!r} is a backbone, not a MetaEmbed model: wrap it with MetaEmbed.from_backbone({name!r}), "
            f"or use the bundled trained model {_bundled_names()}"
        )
    if looks_like_path(name):
        raise OSError(
            f"MetaEmbed model folder {path} does not exist; pass a folder written by save_pretrained() "
            f"or a bundled model ({_bundled_names()})"
        )
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(name_or_path), local_files_only=True))
    except Exception as error:
        raise OSError(
            f"MetaEmbed model {str(name_or_path)!r} is not a local folder, not a model bundled with "
            "metaembed-rag, and not in the Hugging Face cache; metaembed-rag never downloads at run "
            f"time. Download it on a connected machine (`hf download {name_or_path} --local-dir DIR`) "
            "and pass DIR."
        ) from error


def _bundled_names() -> str:
    return ", ".join(sorted(p.parent.name for p in BUNDLED_MODELS_DIR.glob(f"*/{CONFIG_NAME}"))) or "none"


def model_reference(name_or_path: str | Path) -> str:
    """How an index records where a model loaded from ``name_or_path`` comes from: a bundled name
    stays a name, a folder becomes its absolute path."""
    folder = _model_folder(name_or_path)
    if folder == BUNDLED_MODELS_DIR / str(name_or_path):
        return str(name_or_path)
    return str(folder.resolve()) if Path(name_or_path).expanduser().is_dir() else str(name_or_path)


def load_pretrained(cls: type[MetaEmbed], name_or_path: str | Path, *, dtype: torch.dtype | None = None,
                    backbone: str | Path | None = None) -> MetaEmbed:
    """Load a folder written by ``save_pretrained`` (or a bundled model name). Every failure is a
    :class:`ModelLoadError` with a one-line cause, never a traceback from inside transformers."""
    try:
        folder = _model_folder(name_or_path)
    except OSError as error:
        raise ModelLoadError(str(error), error) from None
    try:
        _check_weight_files(folder)
        model = _load(cls, folder, dtype, backbone)
        model.reference = model_reference(name_or_path)
        return model
    except ModelLoadError:
        raise
    except Exception as error:
        raise ModelLoadError(f"{folder}: cannot load the model: {_one_line(error)}", error) from None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or "no details"
    return f"{type(error).__name__}: {text[:300]}"


def _check_weight_files(folder: Path) -> None:
    """Read every safetensors header first, so a truncated or damaged file is named as such."""
    from safetensors import safe_open

    for path in sorted(folder.rglob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt") as handle:
                handle.keys()
        except Exception as error:
            raise ModelLoadError(
                f"{path}: the weights file is truncated or damaged ({_one_line(error)}); "
                "copy or download the model again", error
            ) from None


def _load(cls: type[MetaEmbed], folder: Path, dtype: torch.dtype | None,
          backbone: str | Path | None) -> MetaEmbed:
    config = MetaEmbedConfig.load(folder)
    source = backbone or (folder / "backbone" if (folder / "backbone").is_dir() else config.backbone)
    processor_dir = folder / "processor" if (folder / "processor").is_dir() else None
    adapter = adapter_class(config.family).load(
        source, dtype=dtype, processor_dir=processor_dir, **config.adapter_options
    )
    if (folder / "lora").is_dir():
        from peft import PeftModel  # only models with a LoRA adapter pay for importing peft

        adapter.backbone = PeftModel.from_pretrained(adapter.backbone, str(folder / "lora"))
    model = cls(adapter, config)
    state = load_file(str(folder / WEIGHTS_NAME))
    _load_heads(model, state, folder / WEIGHTS_NAME)
    model.eval()
    return model.to(dtype) if dtype is not None else model


def _load_heads(model: MetaEmbed, state: dict[str, torch.Tensor], where: Path) -> None:
    expected = tuple(model.meta_embeddings.weight.shape)
    meta = state.get("meta_embeddings.weight")
    if meta is None or tuple(meta.shape) != expected:
        got = None if meta is None else tuple(meta.shape)
        raise ValueError(f"{where}: meta embeddings have shape {got}, the config expects {expected}")
    with torch.no_grad():
        model.meta_embeddings.weight.copy_(meta)
        if model.projection is not None:
            model.projection.weight.copy_(state["projection.weight"])
            model.projection.bias.copy_(state["projection.bias"])


# ---------------------------------------------------------------------- official format
_OFFICIAL_META = "prompt_embed_tokens.weight"
_OFFICIAL_PROJ = "custom_text_proj."
_LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(.*)\.(lora_[AB])(?:\.default)?\.weight$")


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        return load_file(str(path))
    return torch.load(path, map_location="cpu", weights_only=True)


def _official_tensors(folder: Path) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix in {".safetensors", ".bin", ".pt", ".pth"} and path.is_file():
            tensors.update({f"{path.name}::{k}": v for k, v in _read_tensors(path).items()})
    return tensors


def _find(tensors: dict[str, torch.Tensor], suffix: str) -> torch.Tensor | None:
    hits = [v for k, v in tensors.items() if k.split("::", 1)[1].endswith(suffix)]
    if len(hits) > 1:
        raise ValueError(f"official checkpoint holds {len(hits)} tensors ending in {suffix!r}; expected one")
    return hits[0] if hits else None


def _module_tail_map(module_names: list[str]) -> dict[str, str]:
    """Map every dotted suffix of our module names to the full name, when unambiguous."""
    tails: dict[str, set[str]] = {}
    for name in module_names:
        parts = name.split(".")
        for i in range(len(parts)):
            tails.setdefault(".".join(parts[i:]), set()).add(name)
    return {tail: next(iter(names)) for tail, names in tails.items() if len(names) == 1}


def _remap_lora(state: dict[str, torch.Tensor], module_names: list[str]) -> dict[str, torch.Tensor]:
    """Rename official LoRA tensors onto our module paths by their longest unambiguous suffix:
    the official model wraps ``*ForConditionalGeneration`` while we hold the bare ``*Model``."""
    tails = _module_tail_map(module_names)
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        match = _LORA_KEY.match(key.split("::", 1)[1])
        if match is None:
            continue
        parts = match.group(1).split(".")
        target = next((tails[".".join(parts[i:])] for i in range(len(parts)) if ".".join(parts[i:]) in tails),
                      None)
        if target is None:
            raise ValueError(f"official LoRA tensor {key!r} matches no module of the backbone")
        mapped[f"{target}.{match.group(2)}.weight"] = value
    return mapped


def load_official(cls: type[MetaEmbed], checkpoint: str | Path, backbone: str | Path, *,
                  family: str = "qwen2_5_vl", num_query_tokens: int = 16,
                  dtype: torch.dtype | None = None, name: str = "metaembed-official",
                  **adapter_options: Any) -> MetaEmbed:
    """Load a checkpoint from the official MetaEmbed training code onto ``backbone``."""
    folder = Path(checkpoint)
    if not folder.is_dir():
        raise OSError(f"official checkpoint folder {folder} does not exist")
    tensors = _official_tensors(folder)
    meta = _find(tensors, _OFFICIAL_META)
    if meta is None:
        raise ValueError(f"{folder} holds no {_OFFICIAL_META!r}: is this a MetaEmbed checkpoint?")
    num_candidate_tokens = meta.shape[0] - num_query_tokens
    if num_candidate_tokens < 1:
        raise ValueError(f"{_OFFICIAL_META} has {meta.shape[0]} rows, fewer than num_query_tokens + 1")
    proj_w, proj_b = _find(tensors, _OFFICIAL_PROJ + "weight"), _find(tensors, _OFFICIAL_PROJ + "bias")
    adapter = adapter_class(family).load(backbone, dtype=dtype, **adapter_options)
    config = MetaEmbedConfig(
        family=family, backbone=str(backbone), hidden_size=adapter.hidden_size,
        num_query_tokens=num_query_tokens, num_candidate_tokens=num_candidate_tokens,
        projection_dim=None if proj_w is None else int(proj_w.shape[0]), name=name,
        adapter_options=adapter.options(),
    )
    adapter_config = next(iter(sorted(folder.rglob("adapter_config.json"))), None)
    if adapter_config is not None:
        _attach_official_lora(adapter, adapter_config, tensors)
        config.lora = json.loads(adapter_config.read_text()) | {"source": "official"}
    model = cls(adapter, config)
    heads = {"meta_embeddings.weight": meta}
    if proj_w is not None:
        heads |= {"projection.weight": proj_w, "projection.bias": proj_b}
    _load_heads(model, heads, folder)
    model.eval()
    return model.to(dtype) if dtype is not None else model


def _attach_official_lora(adapter: Any, adapter_config: Path, tensors: dict[str, torch.Tensor]) -> None:
    from peft import LoraConfig, get_peft_model

    raw = json.loads(adapter_config.read_text())
    module_names = [n for n, _ in adapter.backbone.named_modules()]
    lora_state = _remap_lora(
        {k: v for k, v in tensors.items() if ".lora_" in k}, module_names
    )
    if not lora_state:
        raise ValueError(f"{adapter_config.parent} has an adapter_config.json but no LoRA tensors")
    targets = sorted({k.rsplit(".lora_", 1)[0] for k in lora_state})
    config = LoraConfig(r=raw.get("r", 8), lora_alpha=raw.get("lora_alpha", 8),
                        lora_dropout=raw.get("lora_dropout", 0.0), target_modules=targets,
                        bias=raw.get("bias", "none"))
    adapter.backbone = get_peft_model(adapter.backbone, config)
    # PEFT names the active adapter "default" inside its parameter names.
    peft_state = {"base_model.model." + re.sub(r"\.(lora_[AB])\.", r".\1.default.", k): v
                  for k, v in lora_state.items()}
    result = adapter.backbone.load_state_dict(peft_state, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"official LoRA tensors did not fit the backbone: {result.unexpected_keys[:3]}")
    missing = [k for k in result.missing_keys if ".lora_" in k]
    if missing:
        raise ValueError(f"official checkpoint lacks LoRA tensors for {missing[:3]}")
