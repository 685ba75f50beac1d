# Shared by scripts/evaluate_copy_move.sh and scripts/evaluate_localization.sh (sourced):
# reads MODEL EVAL_DIR [WEIGHTS] [DATA_DIR] [GENERATED...] from "$@", sets MODEL, EVAL, DATA,
# TS, PY, GENERATED (array) and EXTRA (the --model/--weights/--device options), and defines
#   run NAME DATASET ROOT [READER_OPTION...]
# which writes one evaluation to EVAL/NAME (log in EVAL/NAME.log), skipping absent roots.
# The caller prints its usage (lines 2-USAGE_LINES of itself) when fewer than 2 arguments.
if [ $# -lt 2 ]; then
    sed -n "2,${USAGE_LINES:-15}p" "$0" >&2
    exit 2
fi
MODEL=$1
EVAL=$2
WEIGHTS=${3:-default}
DATA=${4:-../shared/data/real-dev}
shift $(( $# < 4 ? $# : 4 ))
GENERATED=("$@")
TS=${TAMPERSCOPE:-tamperscope}
PY=${PYTHON:-python}
EXTRA=(--model "$MODEL" --weights "$WEIGHTS")
if [ -n "${DEVICE:-}" ]; then
    EXTRA+=(--device "$DEVICE")
fi
mkdir -p "$EVAL"

run() {  # name dataset root [reader options...]
    local name=$1 dataset=$2 root=$3
    shift 3
    if [ ! -e "$root" ]; then
        echo "skipping $name: $root is absent" >&2
        return
    fi
    local opts=()
    for o in "$@"; do opts+=(--dataset-option "$o"); done
    echo "evaluating $MODEL on $name" >&2
    "$TS" evaluate --dataset "$dataset" --root "$root" "${EXTRA[@]}" "${opts[@]}" \
        --out "$EVAL/$name" > "$EVAL/$name.log" 2>&1 || echo "  $name failed: see $EVAL/$name.log" >&2
}
