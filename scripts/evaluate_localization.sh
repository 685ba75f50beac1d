#!/usr/bin/env bash
# Score a localization model (manipulated vs pristine) on the real forgeries of a development
# data folder and on generated test sets, one evaluation per set, then print one Markdown table.
#
# usage: scripts/evaluate_localization.sh MODEL EVAL_DIR [WEIGHTS] [DATA_DIR] [GENERATED...]
#   MODEL      registered localization model (e.g. mvss-effnet-lite0, noise-residual)
#   EVAL_DIR   folder receiving one evaluation (metrics.json, per_image.csv, roc.png) per set
#   WEIGHTS    'default' (the shipped weights), 'none', or a weights file
#   DATA_DIR   folder holding casia1-samples/, casia2-samples/, noso/, cm-disambiguation/,
#              deepfill-v2-removal/, face-manipulations/ (default ../shared/data/real-dev);
#              sets that are absent are skipped
#   GENERATED  folders written by 'tamperscope synth' (scored with the 'generated' reader,
#              named after the folder)
# Environment: TAMPERSCOPE (default: tamperscope), PYTHON (default: python), DEVICE (cpu/cuda),
# TILE (native-resolution tile side in pixels; 0 resizes; default: the model's own).
set -euo pipefail
source "$(dirname "$0")/evaluate_sets.sh"
if [ -n "${TILE:-}" ]; then
    EXTRA+=(--tile "$TILE")
fi

run casia1-sp casia "$DATA/casia1-samples" subset=splicing
run casia1-cm casia "$DATA/casia1-samples" subset=copy_move
run casia2 casia "$DATA/casia2-samples"
run noso noso "$DATA/noso" binary=true
run cm-disambiguation cm-disambiguation "$DATA/cm-disambiguation"
run deepfill inpainting-removal "$DATA/deepfill-v2-removal"
run faces-val face-manipulations "$DATA/face-manipulations" split=val
for gen in "${GENERATED[@]}"; do
    run "gen-$(basename "$gen")" generated "$gen"
done
"$PY" scripts/summarize_eval.py --localization "$EVAL"
