#!/usr/bin/env bash
# Held-out generated test sets for localization models: photos of the BSDS500 and CamVid
# *test* splits only (never seen in training by configs/mvss_effnet_lite0.yaml), 100 samples
# each with 30 % pristine negatives, under OUT_DIR (default runs/data/loc-tests).
#   bash scripts/make_localization_testsets.sh [NATURAL_DIR] [OUT_DIR]
set -euo pipefail
D=${1:-../shared/data/natural}
O=${2:-runs/data/loc-tests}
TS=${TAMPERSCOPE:-tamperscope}
C="--max-side 384 --negatives 0.3 --random-attacks 0.2 --groups Difficult,Normal"
$TS synth splice --images $D/bsds500/test --regions bsds500 --blend hard -n 100 --seed 71 \
    --out $O/splice-hard $C
$TS synth splice --images $D/camvid/test --regions camvid --instance-classes 8,9,10 \
    --blend feather -n 100 --seed 72 --out $O/splice-camvid-feather $C
$TS synth splice --images $D/bsds500/test --regions bsds500 --blend poisson -n 100 --seed 75 \
    --out $O/splice-poisson $C
$TS synth copy-move --images $D/bsds500/test --regions bsds500 -n 100 --seed 73 \
    --out $O/copy-move $C
$TS synth inpainting --images $D/bsds500/test -n 100 --seed 74 --inpainter both \
    --out $O/inpainting $C
