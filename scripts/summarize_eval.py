"""Markdown table of ``tamperscope evaluate`` results, models side by side.

    python scripts/summarize_eval.py runs/eval/keypoint-cmfd runs/eval/doagan-effnet-lite0
    python scripts/summarize_eval.py --localization runs/eval/mvss-effnet-lite0 runs/eval/noise

Each argument is a folder holding one sub-folder per evaluated set, each with the
``metrics.json`` that ``tamperscope evaluate`` wrote. Pixel F1 is protocol B (per image, then
averaged) at threshold 0.5 over forged images; "F1 all forged" is that of the trivial answer
"every pixel forged" on the same images; source/target F1 are per class, protocol B. With
``--localization`` the columns are those of manipulation localization: pixel F1, the
all-forged reference, image accuracy, sensitivity, specificity, F1 and AUC at threshold 0.5,
combined F1 (harmonic mean of pixel and image F1) and the G-mean threshold.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def rows(folder: Path) -> list[list[str]]:
    out = []
    for metrics_file in sorted(folder.glob("*/metrics.json")):
        m = json.loads(metrics_file.read_text())
        union = m["pixel"]["union"]["per_image"]
        per_class = m["pixel"].get("per_class") or {}
        image = m.get("image") or {}
        disc = m.get("discernibility") or {}
        out.append(
            [
                metrics_file.parent.name,
                m["settings"].get("model", {}).get("name", folder.name),
                str(m["counts"]["n_tampered"]),
                str(m["counts"]["n_authentic"]),
                _fmt(union["f1"]),
                _fmt(m["f1_conventions"].get("all_forged_reference", {}).get("per_image")),
                _fmt(per_class.get("source", {}).get("per_image", {}).get("f1")),
                _fmt(per_class.get("target", {}).get("per_image", {}).get("f1")),
                _fmt(m["f1_conventions"]["per_image_best_threshold"]["per_image"]),
                _fmt(image.get("auc")),
                _fmt(image.get("f1")),
                _fmt(disc.get("overall_accuracy")),
            ]
        )
    return out


def localization_rows(folder: Path) -> list[list[str]]:
    out = []
    for metrics_file in sorted(folder.glob("*/metrics.json")):
        m = json.loads(metrics_file.read_text())
        image = m.get("image") or {}
        gmean = image.get("gmean") or {}
        out.append(
            [
                metrics_file.parent.name,
                m["settings"].get("model", {}).get("name", folder.name),
                str(m["counts"]["n_tampered"]),
                str(m["counts"]["n_authentic"]),
                _fmt(m["pixel"]["union"]["per_image"]["f1"]),
                _fmt(m["f1_conventions"].get("all_forged_reference", {}).get("per_image")),
                *(_fmt(image.get(k)) for k in ("accuracy", "sensitivity", "specificity", "f1")),
                _fmt(image.get("auc")),
                _fmt(m.get("combined_f1")),
                _fmt(gmean.get("threshold")),
            ]
        )
    return out


LOCALIZATION_HEADER = [
    "set",
    "model",
    "forged",
    "authentic",
    "pixel F1 (B)",
    "F1 all forged",
    "image acc",
    "sens",
    "spec",
    "image F1",
    "image AUC",
    "combined F1",
    "G-mean thr",
]


def main() -> None:
    args = sys.argv[1:]
    localization = "--localization" in args
    folders = [a for a in args if a != "--localization"]
    if localization:
        _print(LOCALIZATION_HEADER, [r for f in folders for r in localization_rows(Path(f))])
        return
    header = [
        "set",
        "model",
        "forged",
        "authentic",
        "pixel F1 (B, union)",
        "F1 all forged",
        "F1 source",
        "F1 target",
        "F1 oracle thr",
        "image AUC",
        "image F1",
        "discern. acc",
    ]
    _print(header, [r for folder in folders for r in rows(Path(folder))])


def _print(header: list[str], table: list[list[str]]) -> None:
    table.sort(key=lambda r: (r[0], r[1]))
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in table:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
