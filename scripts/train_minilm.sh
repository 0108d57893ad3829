#!/usr/bin/env bash
# Reproduce the shipped metaembed-minilm model and the table in its model card, from nothing:
#
#   scripts/train_minilm.sh            (run from the repository root, inside the venv)
#
# 1. fetch the Debian documentation PDFs, 2. mine training pairs and the held-out dev set,
# 3. train MMR (1 epoch) and the NoMMR / single-vector ablations (33 steps each, the step of
# the MMR checkpoint they are compared with), 4. evaluate everything on the dev set, 5. copy the
# MMR model into the package. Every step is resumable: rerunning skips finished work.
set -euo pipefail

DOCS="${DOCS:-data/debian-docs}"
DATA="${DATA:-data/minilm}"
REPORTS="${REPORTS:-reports/minilm}"
CACHE="${CACHE:-data/eval-cache}"

scripts/fetch_debian_docs.sh "$DOCS"
[ -f "$DATA/train.jsonl" ] || python scripts/build_training_data.py "$DOCS" --out "$DATA"

[ -d runs/minilm-mmr/final ] || metaembed-rag train configs/minilm.toml
for mode in nommr single; do
    [ -d "runs/minilm-$mode/final" ] || metaembed-rag train configs/minilm.toml --max-steps 33 \
        --save-every 0 --output-dir "runs/minilm-$mode" \
        --set "loss.mode=\"$mode\"" --set "model.name=\"metaembed-minilm-$mode\""
done

evaluate() {  # evaluate NAME MODEL [extra eval flags]
    local name="$1" model="$2"
    shift 2
    [ -f "$REPORTS/$name/report.json" ] || metaembed-rag eval --dataset "$DATA/dev" --model "$model" \
        --budgets ladder --cache "$CACHE" --out "$REPORTS/$name" "$@"
}
evaluate mmr runs/minilm-mmr/final --baselines bm25,minilm --hybrid rrf,score
evaluate mmr-step33 runs/minilm-mmr/checkpoint-33 --baselines none --hybrid none
evaluate nommr runs/minilm-nommr/final --baselines none --hybrid none
evaluate single runs/minilm-single/final --baselines none --hybrid none
evaluate mmr-windows runs/minilm-mmr/final --windows 4 --baselines none --hybrid rrf

python scripts/ship_model.py runs/minilm-mmr/final metaembed_rag/models/metaembed-minilm
