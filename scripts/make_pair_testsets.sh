#!/usr/bin/env bash
# Probe/donor test sets in the manner of DMAC's evaluation (Liu et al., IEEE TIFS 2019),
# generated with 'tamperscope synth splice-pairs', reproducible by seed:
#   by transformation: raw (pasted at the same position without change), shift, rotation,
#     scale, luminance, deformation, combination (all area groups);
#   by pasted area: difficult (1-10 %), normal (10-25 %), easy (25-50 %) (random transforms).
# Each set holds DMAC's thirds: foreground, background and negative pairs.
#
# usage: scripts/make_pair_testsets.sh OUT_DIR [PHOTOS] [N] [REGIONS] [SEED]
#   OUT_DIR  folder receiving one sub-folder per set
#   PHOTOS   photo folder (default ../shared/data/natural/bsds500/test)
#   N        pairs per set (default 60; a multiple of 3 keeps the thirds balanced)
#   REGIONS  region source: bsds500, camvid, labels or random (default bsds500)
#   SEED     base seed (default 100; set i uses SEED + i)
# Environment: TAMPERSCOPE (default: tamperscope), SIZE (e.g. 256x256, default: keep sizes).
set -euo pipefail
if [ $# -lt 1 ]; then
    sed -n '2,16p' "$0" >&2
    exit 2
fi
OUT=$1
PHOTOS=${2:-../shared/data/natural/bsds500/test}
N=${3:-60}
REGIONS=${4:-bsds500}
SEED=${5:-100}
TS=${TAMPERSCOPE:-tamperscope}
EXTRA=()
if [ -n "${SIZE:-}" ]; then
    EXTRA+=(--size "$SIZE")
fi
mkdir -p "$OUT"

i=0
make_set() {  # name transform groups
    "$TS" synth splice-pairs --images "$PHOTOS" --regions "$REGIONS" -n "$N" \
        --seed $((SEED + i)) --transform "$2" --groups "$3" --out "$OUT/$1" "${EXTRA[@]}"
    i=$((i + 1))
}

for transform in raw shift rotation scale luminance deformation combination; do
    make_set "$transform" "$transform" Difficult,Normal,Easy
done
for group in Difficult Normal Easy; do
    make_set "$(echo "$group" | tr '[:upper:]' '[:lower:]')" random "$group"
done
echo "test sets in $OUT: raw shift rotation scale luminance deformation combination" \
    "difficult normal easy"
