#!/usr/bin/env bash
# Reproduce the shipped metaembed-minilm model and the table in its model card, from nothing:
#
#   scripts/train_minilm.sh            (run from the repository root, inside the venv)
#
# 1. fetch the Debian documentation PDFs, 2. mine training pairs and the held-out dev set,
# 3. train MMR and the NoMMR / single-vector ablations (33 steps each, configs/minilm.toml),
# 4. evaluate everything on the dev set (reports/minilm/*: the model card's tables come from
# `python scripts/model_card_table.py`), 5. copy the MMR model into the package, served at 512
# positions. Every step is resumable: rerunning skips finished work.
set -euo pipefail

DOCS="${DOCS:-data/debian-docs}"
DATA="${DATA:-data/minilm}"
REPORTS="${REPORTS:-reports/minilm}"
CACHE="${CACHE:-data/eval-cache}"

scripts/fetch_debian_docs.sh "$DOCS"
[ -f "$DATA/train.jsonl" ] || python scripts/build_training_data.py "$DOCS" --out "$DATA"

[ -d runs/minilm-mmr/final ] || metaembed-rag train configs/minilm.toml
for mode in nommr single; do
    [ -d "runs/minilm-$mode/final" ] || metaembed-rag train configs/minilm.toml \
        --save-every 0 --output-dir "runs/minilm-$mode" \
        --set "loss.mode=\"$mode\"" --set "model.name=\"metaembed-minilm-$mode\""
done

evaluate() {  # evaluate NAME MODEL [extra eval flags]
    local name="$1" model="$2"
    shift 2
    [ -f "$REPORTS/$name/report.json" ] || metaembed-rag eval --dataset "$DATA/dev" --model "$model" \
        --budgets ladder --cache "$CACHE" --out "$REPORTS/$name" "$@"
}
evaluate bm25 none --baselines bm25 --hybrid none
evaluate mmr runs/minilm-mmr/final --baselines bm25,minilm --hybrid rrf,score   # as trained: 256
evaluate nommr runs/minilm-nommr/final --baselines none --hybrid none
evaluate single runs/minilm-single/final --baselines none --hybrid none
evaluate mmr-512 runs/minilm-mmr/final --max-length 512 --baselines none --hybrid score
evaluate mmr-512-windows3 runs/minilm-mmr/final --max-length 512 --windows 3 --baselines none --hybrid score

python scripts/ship_model.py runs/minilm-mmr/final metaembed_rag/models/metaembed-minilm --max-length 512
