#!/usr/bin/env bash
# Training and validation data of configs/mvss_effnet_lite0.yaml: generated splices, copy-moves
# and inpainted regions of the photos in ../shared/data/natural (binary masks, manipulated vs
# pristine), written under runs/data/. Each command resumes where it stopped when run again.
#   bash scripts/make_mvss_data.sh [NATURAL_DIR] [OUT_DIR]
set -euo pipefail
D=${1:-../shared/data/natural}
O=${2:-runs/data}
TS=${TAMPERSCOPE:-tamperscope}
C="--max-side 384 --negatives 0.3 --random-attacks 0.2"
G="--groups Difficult,Normal"

# training: hosts and donors from the training splits and the person / instance / matte sets
$TS synth splice --images $D/bsds500/train --donors $D/coco128-seg/images --regions instances \
    --blend hard -n 600 --seed 51 --out $O/mvss-sp-coco-train $C $G
$TS synth splice --images $D/camvid/train --donors $D/human-seg/images --regions masks \
    --blend feather -n 400 --seed 52 --out $O/mvss-sp-person-train $C $G
$TS synth splice --images $D/human-seg/images --donors $D/bsds500/train --regions bsds500 \
    --blend poisson -n 400 --seed 53 --out $O/mvss-sp-poisson-train $C $G
$TS synth splice --images $D/bsds500/train --donors $D/p3m-mattes/images --regions mattes \
    -n 200 --seed 54 --out $O/mvss-sp-matte-train $C $G
$TS synth copy-move --images $D/bsds500/train --regions bsds500 -n 700 --seed 55 \
    --out $O/mvss-cm-train $C $G
$TS synth copy-move --images $D/camvid/train --regions camvid -n 300 --seed 56 \
    --out $O/mvss-cm-camvid-train $C --groups Difficult
$TS synth inpainting --images $D/bsds500/train -n 700 --seed 57 --inpainter both \
    --out $O/mvss-inp-train $C $G

# validation: the validation splits only
$TS synth splice --images $D/bsds500/val --donors $D/camvid/val --regions camvid \
    --instance-classes 8,9,10 --blend hard -n 100 --seed 61 --out $O/mvss-sp-val $C $G
$TS synth copy-move --images $D/bsds500/val --regions bsds500 -n 100 --seed 62 \
    --out $O/mvss-cm-val $C $G
$TS synth inpainting --images $D/bsds500/val -n 100 --seed 63 --inpainter both \
    --out $O/mvss-inp-val $C $G
