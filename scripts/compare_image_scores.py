"""Image-level scores of a localization model: its detection head against the maximum of its map.

MVSS-Net reads an image score from its detection head or, alternatively, from the global
maximum of the localization map. This script runs the model once per image and reports, per
set, the ROC AUC and the accuracy / sensitivity / specificity at threshold 0.5 of both:

    python scripts/compare_image_scores.py --weights FILE [--model mvss-effnet-lite0]
        generated:runs/data/loc-tests/splice-hard casia:../shared/data/real-dev/casia1-samples ...

Each set is ``READER:FOLDER[?KEY=VALUE&...]`` (reader options as in ``data.train_roots``).
Sets with a single class get no AUC.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import roc_auc_score

import tamperscope
from tamperscope.data import open_dataset
from tamperscope.engine.data import parse_root
from tamperscope.inference.localization import predict_localization


def _rates(labels: np.ndarray, scores: np.ndarray) -> str:
    pred = scores >= 0.5
    acc = float((pred == labels).mean())
    sens = float(pred[labels == 1].mean()) if (labels == 1).any() else float("nan")
    spec = float((~pred[labels == 0]).mean()) if (labels == 0).any() else float("nan")
    auc = roc_auc_score(labels, scores) if len(set(labels.tolist())) == 2 else float("nan")
    return f"{auc:6.3f} {acc:6.3f} {sens:6.3f} {spec:6.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--model", default="mvss-effnet-lite0")
    parser.add_argument("--weights", default="default")
    args = parser.parse_args()
    detector = tamperscope.load_model(args.model, weights=args.weights, device="cpu")
    print(f"{'set':<28}{'n':>5}  head: AUC    acc   sens   spec | map max: AUC  acc   sens   spec")
    for spec in args.sets:
        reader, root, options = parse_root(spec, "generated")
        ds = open_dataset(reader, root, **options)
        labels, head, peak = [], [], []
        for i in range(len(ds)):
            sample = ds.load(i)
            pred, _ = predict_localization(
                detector.model, sample["image"], long_side=detector.long_side, tile=detector.tile
            )
            labels.append(int(sample["label"]))
            head.append(pred.score)
            peak.append(float(pred.forgery_map.max()))
        y = np.array(labels)
        name = root.rstrip("/").split("/")[-1] + (f"?{options}" if options else "")
        print(
            f"{name[:28]:<28}{len(y):>5}  {_rates(y, np.array(head))} | {_rates(y, np.array(peak))}"
        )


if __name__ == "__main__":
    main()
