"""Copy a trained MetaEmbed model into the package so that it loads by name, offline.

    python scripts/ship_model.py runs/minilm-mmr/final metaembed_rag/models/metaembed-minilm

Only what training produced is written (meta embeddings, projection, LoRA, tokenizer files); the
backbone is referenced by name and comes from its own package. The copy is checked to encode
exactly like the source before the old bundled model is replaced.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import torch

from metaembed_rag import MetaEmbed

PROBES = ["How do I set a logarithmic axis?", "set logscale x\nMakes the x axis logarithmic."]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("source", type=Path, help="a folder written by save_pretrained (e.g. runs/.../final)")
    parser.add_argument("target", type=Path, help="metaembed_rag/models/<name>")
    parser.add_argument("--max-length", type=int, help="serve with this text window (trained shorter)")
    parser.add_argument("--windows", type=int, help="serve long documents as up to N averaged windows")
    parser.add_argument("--hybrid-alpha", type=float,
                        help="default MetaEmbed weight of score fusion, fitted by eval --alpha fit")
    args = parser.parse_args()
    model = MetaEmbed.from_pretrained(args.source).eval()
    if args.max_length is not None:
        model.adapter.max_length = args.max_length
        model.config.adapter_options["max_length"] = args.max_length
    if args.windows is not None:
        model.config.document_windows = args.windows
    if args.hybrid_alpha is not None:
        model.config.hybrid_alpha = args.hybrid_alpha
        model.config.__post_init__()  # validates the weight
    staging = Path(tempfile.mkdtemp(dir=args.target.parent, prefix=f".{args.target.name}."))
    try:
        model.save_pretrained(staging, save_backbone=False)
        (staging / "lora" / "README.md").unlink(missing_ok=True)  # peft's empty card template
        copy = MetaEmbed.from_pretrained(staging).eval()
        for encode in ("encode_queries", "encode_documents"):
            if not torch.equal(getattr(model, encode)(PROBES), getattr(copy, encode)(PROBES)):
                raise SystemExit(f"the copy in {staging} does not {encode} like {args.source}; not shipped")
        card = args.target / "README.md"
        if card.exists():  # the model card lives with the weights
            shutil.copy2(card, staging / "README.md")
        old = args.target.with_name(args.target.name + ".old")
        if args.target.exists():
            args.target.rename(old)
        staging.rename(args.target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    size = sum(f.stat().st_size for f in args.target.rglob("*") if f.is_file())
    print(f"shipped {args.source} -> {args.target} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
