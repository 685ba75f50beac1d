#!/usr/bin/env bash
# Score a pair model on the test sets of scripts/make_pair_testsets.sh and print one table
# (per set: pair IoU, MCC, NMM over positive pairs and over all pairs, detection F1, AUC, EER).
#
# usage: scripts/evaluate_pair_testsets.sh SETS_DIR EVAL_DIR [WEIGHTS] [MODEL]
#   SETS_DIR  folder written by scripts/make_pair_testsets.sh
#   EVAL_DIR  folder receiving one evaluation (metrics.json, per_pair.csv, roc.png) per set
#   WEIGHTS   weights file from 'tamperscope train --export' (default: the model's shipped
#             weights), or 'none' for an untrained network
#   MODEL     registered pair model (default dmac-effnet-lite0)
# Environment: TAMPERSCOPE (default: tamperscope), PYTHON (default: python), DEVICE (cpu/cuda).
set -euo pipefail
if [ $# -lt 2 ]; then
    sed -n '2,12p' "$0" >&2
    exit 2
fi
SETS=$1
EVAL=$2
WEIGHTS=${3:-default}
MODEL=${4:-dmac-effnet-lite0}
TS=${TAMPERSCOPE:-tamperscope}
PY=${PYTHON:-python}
EXTRA=()
if [ -n "${DEVICE:-}" ]; then
    EXTRA+=(--device "$DEVICE")
fi
mkdir -p "$EVAL"

done_sets=()
for name in raw shift rotation scale luminance deformation combination difficult normal easy; do
    if [ ! -f "$SETS/$name/manifest.jsonl" ]; then
        echo "skipping $name: no $SETS/$name/manifest.jsonl" >&2
        continue
    fi
    "$TS" evaluate --dataset generated-pairs --root "$SETS/$name" --model "$MODEL" \
        --weights "$WEIGHTS" --out "$EVAL/$name" "${EXTRA[@]}" > "$EVAL/$name.log"
    done_sets+=("$EVAL/$name")
done
if [ ${#done_sets[@]} -eq 0 ]; then
    echo "no test set found in $SETS" >&2
    exit 1
fi
"$PY" -m tamperscope.metrics.tables "${done_sets[@]}"
