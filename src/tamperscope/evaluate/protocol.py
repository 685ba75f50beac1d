"""Per-sample columns and protocol notes of the evaluations, as ``metrics.json`` states them.

The notes are written verbatim into every ``metrics.json`` (``protocol_notes``), so that a
number can be read with its rule: threshold, per-image (protocol B) or pooled (protocol A)
averaging, how authentic images, empty masks and negative pairs count.
"""

from __future__ import annotations

__all__ = ["PAIR_PROTOCOL_NOTES", "PER_IMAGE_COLUMNS", "PER_PAIR_COLUMNS", "PROTOCOL_NOTES"]

#: Columns of the per-image table, in order.
PER_IMAGE_COLUMNS = (
    "name",
    "label",
    "score",
    "predicted_label",
    "mask_case",
    "f1",
    "precision",
    "recall",
    "iou",
    "mcc",
    "nmm",
    "auc",
    "f1_best",
    "f1_best_threshold",
    "f1_inverted_max",
    "f1_border",
    "f1_pristine",
    "f1_source",
    "f1_target",
    "discernibility",
    "error",
)

#: Rules of the copy-move (single-image) evaluation, by key.
PROTOCOL_NOTES = {
    "threshold": "a pixel (image) is predicted forged when its probability (score) >= threshold",
    "protocol_a": "pooled: confusion counts of all scored pixels of all images, one metric",
    "protocol_b": "per-image: metric computed on each image, then averaged over images",
    "authentic_skip": (
        "images whose ground-truth mask is empty (authentic) are left out of every pixel-level "
        "metric, per-image and pooled; per class, images without that class are left out of "
        "that class's per-image mean"
    ),
    "authentic_count": (
        "images with an empty mask count: nothing predicted scores 1 on every metric; any "
        "forged pixel predicted scores precision 0, recall 1, F1 0, IoU 0, MCC 0, NMM -1; "
        "their pixels enter the pooled counts"
    ),
    "nonempty_masks": "precision is 0 when nothing is predicted, MCC is 0 when undefined",
    "pixel_auc": (
        "from score histograms of 1001 bins on [0, 1] (scores quantized to 0.001); per-image "
        "AUC is averaged over images whose mask is neither empty nor full"
    ),
    "f1_fixed_threshold": "F1 at the given threshold",
    "f1_per_image_best_threshold": (
        "oracle: each image at its own best threshold (chosen with the ground truth), then "
        "averaged; an optimistic upper bound"
    ),
    "f1_dataset_best_threshold": (
        "one threshold for all images, the one maximizing the dataset F1 (chosen with the "
        "ground truth; optimistic)"
    ),
    "f1_inverted_max": "per image, max of the F1 of the map and of 1 - map at the threshold",
    "f1_all_forged_reference": (
        "F1 of the trivial answer 'every pixel forged' (2p / (p + 1) for a forged fraction p) "
        "over the images with a forged region, per image then averaged, and pooled: a model's "
        "F1 means something only above it"
    ),
    "f1_border_excluded": (
        "F1 at the threshold ignoring pixels within border_px pixels of the ground-truth "
        "boundary (NIST MFC no-score zone: dilation minus erosion with a disc); 0 = no zone"
    ),
    "three_class_labels": (
        "forged where P(source) + P(target) >= threshold, then source where P(source) > "
        "P(target), else target"
    ),
    "image_score": (
        "given score when provided, else the maximum of the forgery probability map; images "
        "whose label is not 0 or 1 (unknown) are left out of image-level metrics"
    ),
    "combined_f1": (
        "harmonic mean of pixel F1 (protocol B, fixed threshold) and image F1; combined_f1_mvss "
        "uses the harmonic mean of sensitivity and specificity as image F1 (MVSS-Net, ICCV 2021)"
    ),
    "discernibility": (
        "BusterNet (Wu et al., ECCV 2018): missed = no source/target pixel predicted; opted out = "
        "only one of source/target predicted; correct = predicted source overlaps GT source more "
        "than GT target and predicted target overlaps GT target more than GT source; wrong = "
        "other opted-in images. Scored on images whose GT has both source and target"
    ),
}


#: Columns of the per-pair table, in order.
PER_PAIR_COLUMNS = (
    "name",
    "label",
    "pair_type",
    "group",
    "transform",
    "score",
    "score_source",
    "predicted_label",
    "mask_case",
    "iou",
    "mcc",
    "nmm",
    "iou_all",
    "mcc_all",
    "nmm_all",
    "error",
)

#: Rules of the probe/donor pair evaluation, by key.
PAIR_PROTOCOL_NOTES = {
    "threshold": "a pixel is predicted shared when its probability >= threshold; a pair is "
    "predicted correlated when its score >= threshold",
    "pair_localization": (
        "IoU, MCC and NMM of the probe mask and of the donor mask, averaged over the two "
        "masks of the pair, then over pairs (DMAC, Liu et al., IEEE TIFS 2019); maps of "
        "another size are resized bilinearly to their mask"
    ),
    "positive_pairs": (
        "only masks with shared pixels are scored: negative pairs (both masks empty) are left "
        "out, a pair with one empty mask is scored on the other one"
    ),
    "all_pairs": (
        "every pair with masks counts: an empty mask with nothing predicted scores 1 on IoU, "
        "MCC and NMM; an empty mask with any pixel predicted scores IoU 0, MCC 0, NMM -1"
    ),
    "pair_score": (
        "given score when provided (scores.csv/scores.json), else DMAC's rule: the mean over "
        "both masks of the average probability of the pixels above 0.5 (0 for a mask without "
        "such pixels); pairs whose label is not 0 or 1 are left out of detection metrics"
    ),
    "detection": "correlated (label 1) is the positive class; AUC and EER are threshold-free",
    "pixel_auc": (
        "pooled over the probe and donor maps of the pairs with shared pixels, from score "
        "histograms of 1001 bins on [0, 1]"
    ),
}
