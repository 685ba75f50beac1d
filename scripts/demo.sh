#!/usr/bin/env bash
# tamperscope's main job, end to end, on a photo that ships with scikit-image:
#   1. forge it with the project's own generators: a copy-move, and a splice of another
#      bundled photo's region (and keep the authentic original),
#   2. analyze the forgeries and the original with every detector, printing the verdicts,
#   3. score the detectors on small generated sets with the metric suite.
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

"$TS" synth splice --images "$OUT/photos" --donors skimage --regions random -n 1 --seed 5 \
    --groups Normal --out "$OUT/spliced"

echo "== 2. analyzing the forgeries and the authentic original"
echo "   (default detectors: keypoint-doagan, where keypoint matching finds the copied pair and the"
echo "   shipped DOA-GAN weights tell the source from the copy; mvss-effnet-lite0, the generic"
echo "   manipulation localizer)"
"$TS" analyze "$OUT/forged/images/000000.png" "$OUT/spliced/images/000000.jpg" \
    "$OUT/forged/originals/000000.png" --out "$OUT/analyze"
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

echo "== 4. scoring the localizers on 8 generated splices and pristine photos"
"$TS" synth splice --images skimage --regions random -n 8 --seed 0 --max-side 384 \
    --negatives 0.25 --out "$OUT/synth-splice"
LOCALIZERS="mvss-effnet-lite0 noise-residual"
for model in $LOCALIZERS; do
    "$TS" evaluate --dataset generated --root "$OUT/synth-splice" --model "$model" \
        --out "$OUT/evaluate-splice/$model/generated-splice" > "$OUT/evaluate-splice-$model.log"
done
"$BIN/python" scripts/summarize_eval.py --localization \
    $(for m in $LOCALIZERS; do echo "$OUT/evaluate-splice/$m"; done)

echo "Reports, colour masks (red = copy/target, green = source, white = other manipulated) and"
echo "overlays are in $OUT/analyze"
echo "and $OUT/analyze-doagan;"
echo "metrics.json, per_image.csv and roc.png of each model in $OUT/evaluate/MODEL/generated"
echo "and $OUT/evaluate-splice/MODEL/generated-splice."
