"""Summary tables of several ``tamperscope evaluate`` runs on probe/donor pair test sets.

Each run folder holds the ``metrics.json`` written by ``tamperscope evaluate`` on a pair
dataset; one row per folder gives pair IoU, MCC and NMM (positive pairs, DMAC's convention:
negative pairs left out), the same over all pairs, and the detection F1, AUC and EER of the
pair score. Run as a module to print the table::

    python -m tamperscope.metrics.tables runs/eval/raw runs/eval/shift ...
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tamperscope.errors import TamperscopeError

__all__ = ["PAIR_TABLE_COLUMNS", "format_pair_table", "main", "pair_summary_row", "read_pair_rows"]

#: Columns of the pair summary table, in order.
PAIR_TABLE_COLUMNS = (
    "set",
    "pairs",
    "iou",
    "mcc",
    "nmm",
    "iou_all",
    "mcc_all",
    "nmm_all",
    "f1",
    "auc",
    "eer",
)


def pair_summary_row(name: str, result: dict[str, Any]) -> dict[str, Any]:
    """One table row from the ``metrics.json`` of a pair evaluation.

    Args:
        name: the row's label (the test set).
        result: the parsed ``metrics.json``.

    Returns:
        ``{column: value}`` over :data:`PAIR_TABLE_COLUMNS`; None where a metric is undefined.

    Raises:
        TamperscopeError: ``result`` is not the result of a pair evaluation.
    """
    conventions = result.get("localization_conventions")
    if not isinstance(conventions, dict):
        raise TamperscopeError(
            f"{name}: not a pair evaluation (no 'localization_conventions' in metrics.json)"
        )
    pos, every = conventions["positive_pairs"], conventions["all_pairs"]
    detection = result.get("detection") or {}
    return {
        "set": name,
        "pairs": result.get("n_pairs"),
        "iou": pos.get("iou"),
        "mcc": pos.get("mcc"),
        "nmm": pos.get("nmm"),
        "iou_all": every.get("iou"),
        "mcc_all": every.get("mcc"),
        "nmm_all": every.get("nmm"),
        "f1": detection.get("f1"),
        "auc": detection.get("auc"),
        "eer": detection.get("eer"),
    }


def read_pair_rows(folders: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Rows of :func:`pair_summary_row` for each evaluation folder (named by the folder).

    Raises:
        TamperscopeError: a folder without ``metrics.json``, an unreadable file, or a
            single-image evaluation.
    """
    rows = []
    for folder in folders:
        path = Path(folder) / "metrics.json"
        if not path.is_file():
            raise TamperscopeError(f"{path}: no metrics.json (run tamperscope evaluate first)")
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise TamperscopeError(f"{path}: not valid JSON ({exc.msg})") from None
        rows.append(pair_summary_row(Path(folder).name, result))
    return rows


def format_pair_table(rows: Sequence[dict[str, Any]]) -> str:
    """Plain-text table (aligned columns, ``-`` for undefined values) of summary rows."""

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.4f}"
        return str(value)

    cells = [list(PAIR_TABLE_COLUMNS)]
    cells += [[cell(r.get(c)) for c in PAIR_TABLE_COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(PAIR_TABLE_COLUMNS))]
    lines = []
    for line in cells:
        padded = [v.rjust(w) for v, w in zip(line, widths, strict=True)]
        padded[0] = line[0].ljust(widths[0])  # set names read best left-aligned
        lines.append("  ".join(padded))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the pair summary table of the evaluation folders given as arguments.

    Returns:
        0, or 2 (with a message on stderr) when no folder is given or one cannot be read.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        usage = "usage: python -m tamperscope.metrics.tables EVAL_DIR [EVAL_DIR ...]"
        print(usage, file=sys.stderr)
        return 2
    try:
        rows = read_pair_rows(args)
    except TamperscopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_pair_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
