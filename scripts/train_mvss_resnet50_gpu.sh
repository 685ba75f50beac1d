#!/usr/bin/env bash
# The papers' MVSS-Net recipe on one GPU: mvss-resnet50 with the edge branch, 512x512 crops,
# on the data of scripts/make_mvss_data.sh (written first when missing; resumes when run again).
#   bash scripts/train_mvss_resnet50_gpu.sh [RUN_DIR] [EPOCHS]
# ResNet-50's ImageNet weights come from torchvision's cache (~/.cache/torch/hub); on a machine
# without them and without a network, run with PRETRAINED=false (trained from scratch).
# Run again to resume from RUN_DIR's newest checkpoint; the final weights are exported to
# RUN_DIR/mvss_resnet50.safetensors at the end.
set -euo pipefail
RUN=${1:-runs/mvss-resnet50}
EPOCHS=${2:-30}
TS=${TAMPERSCOPE:-tamperscope}
[ -d runs/data/mvss-inp-val ] || TAMPERSCOPE=$TS bash scripts/make_mvss_data.sh
RESUME=""
[ -d "$RUN/checkpoints" ] && RESUME="--resume"
$TS train --config configs/mvss_effnet_lite0.yaml --run-dir "$RUN" $RESUME \
    --export "$RUN/mvss_resnet50.safetensors" \
    --set model.name=mvss-resnet50 \
    --set model.kwargs.pretrained_backbone=${PRETRAINED:-true} \
    --set model.kwargs.edge_branch=true \
    --set model.kwargs.fpn_channels=256 --set model.kwargs.ppm_channels=256 \
    --set model.kwargs.edge_channels=64 \
    --set data.image_size=512 --set data.batch_size=16 --set data.num_workers=8 \
    --set optim.lr_generator=1.0e-4 \
    --set train.epochs="$EPOCHS" --set train.device=cuda
