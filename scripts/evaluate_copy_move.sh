#!/usr/bin/env bash
# Score a copy-move model on the real copy-moves of a development data folder and on generated
# test sets, one evaluation per set, then print one Markdown table.
#
# usage: scripts/evaluate_copy_move.sh MODEL EVAL_DIR [WEIGHTS] [DATA_DIR] [GENERATED...]
#   MODEL      registered copy-move model (e.g. keypoint-cmfd, doagan-effnet-lite0)
#   EVAL_DIR   folder receiving one evaluation (metrics.json, per_image.csv, roc.png) per set
#   WEIGHTS    'default' (the shipped weights), 'none', or a weights file
#   DATA_DIR   folder holding noso/, cm-disambiguation/, casia1-samples/, casia2-samples/
#              (default ../shared/data/real-dev); sets that are absent are skipped
#   GENERATED  folders written by 'tamperscope synth copy-move' (scored with the 'generated'
#              reader, named after the folder)
# Environment: TAMPERSCOPE (default: tamperscope), PYTHON (default: python), DEVICE (cpu/cuda),
# LONG_SIDE (analysis resolution in pixels; default: the model's own).
set -euo pipefail
source "$(dirname "$0")/evaluate_sets.sh"
if [ -n "${LONG_SIDE:-}" ]; then
    EXTRA+=(--long-side "$LONG_SIDE")
fi

# NoSo: the 14 forgeries with source/target masks (per-class F1), then all 18 with the 13 originals
run noso-st noso "$DATA/noso" three_class_only=true
run noso-all noso "$DATA/noso"
run cm-disambiguation cm-disambiguation "$DATA/cm-disambiguation"
run casia1-cm casia "$DATA/casia1-samples" subset=copy_move
run casia2-cm casia "$DATA/casia2-samples" subset=copy_move
for gen in "${GENERATED[@]}"; do
    run "gen-$(basename "$gen")" generated "$gen"
done
"$PY" scripts/summarize_eval.py "$EVAL"
