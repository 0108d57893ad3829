"""Damaged model folders: a named one-line ModelLoadError, never a traceback from transformers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from metaembed_rag.model import MetaEmbed, ModelLoadError
from metaembed_rag.model.checkpoint import BUNDLED_MODELS_DIR

BUNDLED = BUNDLED_MODELS_DIR / "metaembed-minilm"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(BUNDLED, folder)
    return folder


def load_error(folder: Path) -> ModelLoadError:
    with pytest.raises(ModelLoadError) as caught:
        MetaEmbed.from_pretrained(folder)
    error = caught.value
    assert "\n" not in str(error) and str(error).startswith(str(folder))
    assert error.__suppress_context__ and error.__cause__ is None  # no chained library traceback
    assert isinstance(error, OSError)  # callers catching OSError (as before) still do
    return error


@pytest.mark.parametrize("name", ["metaembed.safetensors", "lora/adapter_model.safetensors"])
def test_a_truncated_safetensors_file_is_named(copy: Path, name: str) -> None:
    path = copy / name
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    error = load_error(copy)
    assert str(error).startswith(f"{path}: the weights file is truncated or damaged")
    assert error.cause is not None


def test_a_garbage_safetensors_header_is_named(copy: Path) -> None:
    (copy / "metaembed.safetensors").write_bytes(b"\xff" * 64)
    assert "truncated or damaged" in str(load_error(copy))


def test_a_config_of_another_model_family_is_a_one_line_error(copy: Path) -> None:
    config = json.loads((copy / "metaembed_config.json").read_text())
    (copy / "metaembed_config.json").write_text(json.dumps({**config, "family": "llama"}))
    assert "unknown backbone family 'llama'" in str(load_error(copy))


def test_a_transformers_config_in_place_of_ours_is_a_one_line_error(copy: Path) -> None:
    (copy / "metaembed_config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 2}))
    assert "cannot load the model: TypeError" in str(load_error(copy))


def test_a_backbone_of_another_family_is_a_one_line_error(copy: Path, tmp_path: Path) -> None:
    backbone = tmp_path / "gpt2"
    backbone.mkdir()
    (backbone / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_layer": 1, "n_head": 2,
                                                      "n_embd": 8, "vocab_size": 10}))  # fmt: skip
    with pytest.raises(ModelLoadError, match="cannot load the model") as caught:
        MetaEmbed.from_pretrained(copy, backbone=backbone)
    assert "\n" not in str(caught.value)


def test_a_missing_tokenizer_is_a_one_line_error(copy: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (copy / "processor" / name).unlink()
    assert "cannot load the model" in str(load_error(copy))


def test_a_folder_without_a_config_is_a_model_load_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="is not a MetaEmbed model folder"):
        MetaEmbed.from_pretrained(tmp_path / "empty")


def test_the_intact_copy_loads(copy: Path) -> None:
    assert MetaEmbed.from_pretrained(copy).config.name == "metaembed-minilm"
