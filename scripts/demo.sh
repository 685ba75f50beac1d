#!/usr/bin/env bash
# tamperscope's main job, end to end, on a photo that ships with scikit-image:
#   1. forge it with the project's own copy-move generator (and keep its authentic original),
#   2. analyze the forgery and the original, printing both verdicts,
#   3. score the detector on a small generated set with the metric suite.
# No network and no external data are needed.
set -euo pipefail
BIN=${1:-.venv/bin}
OUT=${2:-demo_out}
TS="$BIN/tamperscope"
rm -rf "$OUT"
mkdir -p "$OUT/photos"

# The cat photo bundled with scikit-image, as a file.
"$BIN/python" - "$OUT/photos" <<'PY'
import sys
import skimage.data
from tamperscope.io import write_image
write_image(f"{sys.argv[1]}/chelsea.png", skimage.data.chelsea())
PY

echo "== 1. forging the photo (copy-move, seed 3)"
"$TS" synth copy-move --images "$OUT/photos" --regions random -n 1 --seed 3 \
    --groups Normal --out "$OUT/forged"

echo "== 2. analyzing the forgery and its authentic original"
echo "   (default model keypoint-doagan: keypoint matching finds the copied pair, the shipped"
echo "   DOA-GAN weights tell the source from the copy)"
"$TS" analyze "$OUT/forged/images/000000.png" "$OUT/forged/originals/000000.png" \
    --out "$OUT/analyze"
echo "   ... and with the DOA-GAN weights alone (trained on generated forgeries; weak on real"
echo "   photos: see the README's Measured performance)"
"$TS" analyze "$OUT/forged/images/000000.png" "$OUT/forged/originals/000000.png" \
    --model doagan-effnet-lite0 --out "$OUT/analyze-doagan"

echo "== 3. scoring the copy-move detectors on 8 generated forgeries and pristine photos"
"$TS" synth copy-move --images skimage --regions random -n 8 --seed 0 --max-side 384 \
    --negatives 0.25 --out "$OUT/synth"
MODELS="keypoint-doagan keypoint-cmfd doagan-effnet-lite0"
for model in $MODELS; do
    "$TS" evaluate --dataset generated --root "$OUT/synth" --model "$model" \
        --out "$OUT/evaluate/$model/generated" > "$OUT/evaluate-$model.log"
done
"$BIN/python" scripts/summarize_eval.py $(for m in $MODELS; do echo "$OUT/evaluate/$m"; done)

echo "Reports, colour masks (red = copy/target, green = source) and overlays are in $OUT/analyze"
echo "and $OUT/analyze-doagan;"
echo "metrics.json, per_image.csv and roc.png of each model in $OUT/evaluate/MODEL/generated."
