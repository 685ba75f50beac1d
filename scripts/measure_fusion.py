"""How ``analyze`` fuses its detectors, measured per set: each detector alone against the fusion.

Runs every detector once per image (as ``tamperscope analyze`` does) and prints per set, for
each detector's own score and for the fused score: image ROC AUC, sensitivity and specificity
at the decision (0.5 after the per-detector threshold mapping; specificity = 1 - false-alarm
rate on authentic photos), and the protocol-B pixel F1 (per forged image, then averaged) of the
drawn mask (any marked pixel) against the binary ground truth, with the mask all black when
the image is judged authentic, as in the report:

    python scripts/measure_fusion.py [--detectors keypoint-doagan,mvss-effnet-lite0]
        casia:../shared/data/real-dev/casia1-samples?subset=splicing generated:runs/data/x ...

Each set is ``READER:FOLDER[?KEY=VALUE&...]`` (reader options as in ``data.train_roots``).
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import roc_auc_score

import tamperscope
from tamperscope.data import open_dataset
from tamperscope.engine.data import parse_root
from tamperscope.metrics.pixel import f1_fixed
from tamperscope.report.findings import calibrated_score, detector_class_map


def _summary(labels: np.ndarray, scores: np.ndarray, f1s: list[float]) -> str:
    pred = scores >= 0.5
    auc = roc_auc_score(labels, scores) if len(set(labels.tolist())) == 2 else float("nan")
    sens = pred[labels == 1].mean() if (labels == 1).any() else float("nan")
    spec = (~pred[labels == 0]).mean() if (labels == 0).any() else float("nan")
    f1 = float(np.mean(f1s)) if f1s else float("nan")
    return f"{auc:5.3f} {sens:5.3f} {spec:5.3f} {f1:5.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+")
    parser.add_argument("--detectors", default=",".join(tamperscope.api.DEFAULT_DETECTORS))
    args = parser.parse_args()
    detectors = tamperscope.load_detectors(args.detectors.split(","), device="cpu")
    names = [d.name for d in detectors] + ["fused"]
    head = "  ".join(f"{n[:22]:>23}" for n in names)
    print(f"{'set':<26}{'n':>4} {head}")
    print(f"{'':<31}" + "  ".join(f"{'AUC  sens  spec  F1':>23}" for _ in names))
    for spec in args.sets:
        reader, root, options = parse_root(spec, "generated")
        ds = open_dataset(reader, root, **options)
        labels: list[int] = []
        scores: dict[str, list[float]] = {n: [] for n in names}
        f1s: dict[str, list[float]] = {n: [] for n in names}
        for i in range(len(ds)):
            sample = ds.load(i)
            report = tamperscope.analyze(sample["image"], detectors=detectors)
            labels.append(int(sample["label"]))
            gt = None if sample["mask"] is None else sample["mask"] > 0
            scored = sample["label"] == 1 and gt is not None and gt.any()
            for d, result in zip(detectors, report.detectors, strict=True):
                scores[d.name].append(calibrated_score(result.score, result.threshold))
                if scored:
                    marked = detector_class_map(result) > 0 if result.forged else None
                    f1s[d.name].append(_f1(marked, gt))
            scores["fused"].append(report.score)
            if scored:
                marked = report.class_map > 0 if report.forged else None
                f1s["fused"].append(_f1(marked, gt))
        y = np.array(labels)
        name = root.rstrip("/").split("/")[-1] + (f"?{options}" if options else "")
        row = "  ".join(f"{_summary(y, np.array(scores[n]), f1s[n]):>23}" for n in names)
        print(f"{name[:26]:<26}{len(y):>4} {row}")


def _f1(marked: np.ndarray | None, gt: np.ndarray) -> float:
    prob = np.zeros(gt.shape, np.float32) if marked is None else marked.astype(np.float32)
    value = f1_fixed(prob, gt)
    return 0.0 if value is None else value


if __name__ == "__main__":
    main()
