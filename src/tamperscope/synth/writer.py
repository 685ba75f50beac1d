"""Writing a generated set: config, per-sample files, manifest, resume.

Layout of an output folder ``OUT``::

    OUT/config.json         resolved generation config (kind, seed, n, options, version)
    OUT/manifest.jsonl      one JSON object per sample, in index order
    OUT/<folder>/NAME.png   the sample's images and masks (folders depend on the kind; images
                            of single-image splices may be NAME.jpg)

Each sample's files are written atomically, then its manifest line is appended and synced. A
run that stops part-way is continued by running it again with the same config: samples with
a manifest line are skipped, files of a sample without one are overwritten. A folder with a
different config is refused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from tamperscope.errors import TamperscopeError
from tamperscope.io import atomic_open, json_default, write_image, write_json

CONFIG_NAME = "config.json"
MANIFEST_NAME = "manifest.jsonl"

#: ``render(index) -> (files, record)``: files maps paths relative to OUT to arrays (encoded
#: by suffix) or to the bytes of an already encoded file (written as they are).
RenderFn = Callable[[int], tuple[Mapping[str, np.ndarray | bytes], dict[str, Any]]]


class GenerationError(TamperscopeError):
    """A generation run cannot start or continue (bad output folder, config mismatch, ...)."""


@dataclass
class GenerationSummary:
    """What a generation run did.

    Attributes:
        out: the output folder.
        n: samples in the set.
        written: samples written by this run.
        skipped: samples already present (resumed run).
        bad_images: source photos that could not be decoded, with the reason.
    """

    out: Path
    n: int
    written: int = 0
    skipped: int = 0
    bad_images: list[str] = field(default_factory=list)


def _normalise(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=json_default))


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a!r} in the folder, {b!r} now")
    return out


def read_manifest(out: Path) -> list[dict[str, Any]]:
    """Complete manifest records of ``out``; a torn last line is dropped from the file.

    Raises:
        GenerationError: a line other than the last is not valid JSON.
    """
    path = out / MANIFEST_NAME
    if not path.exists():
        return []
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    records = []
    for number, line in enumerate(complete, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise GenerationError(f"{path}: line {number} is not valid JSON ({exc})") from exc
    if tail:  # interrupted while appending: the line was never complete
        with open(path, "r+b") as fh:
            fh.truncate(len(raw) - len(tail))
    return records


def prepare_output(out: str | Path, config: dict[str, Any], resume: bool) -> set[int]:
    """Create or reopen an output folder for ``config``.

    Args:
        out: output folder.
        config: the resolved config (JSON-serialisable).
        resume: the caller asked to resume; then the folder must hold a config.

    Returns:
        Indices of the samples already in the manifest.

    Raises:
        GenerationError: ``out`` is a file; it holds a different config (the message lists the
            differences); it is not empty but has no config; or ``resume`` with nothing to
            resume.
    """
    out = Path(out)
    config = _normalise(config)
    if out.exists() and not out.is_dir():
        raise GenerationError(f"{out}: output path exists and is not a folder")
    config_path = out / CONFIG_NAME
    if config_path.exists():
        try:
            old = json.loads(config_path.read_text())
        except json.JSONDecodeError as exc:
            raise GenerationError(f"{config_path}: not valid JSON ({exc})") from exc
        if old != config:
            diff = "; ".join(_differences(old, config))
            raise GenerationError(
                f"{out} holds a set generated with a different config ({diff}); "
                "use another output folder or the same options to resume"
            )
        return {int(r["index"]) for r in read_manifest(out)}
    if resume:
        raise GenerationError(f"{out}: nothing to resume (no {CONFIG_NAME})")
    if out.exists() and any(out.iterdir()):
        raise GenerationError(
            f"{out} is not empty and holds no {CONFIG_NAME}; choose an empty or new folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    write_json(config_path, config)
    return set()


def run_generation(
    out: str | Path,
    config: dict[str, Any],
    n: int,
    render: RenderFn,
    *,
    resume: bool = False,
    progress: bool = False,
    on_sample: Callable[[int, dict[str, Any]], None] | None = None,
    summary: GenerationSummary | None = None,
) -> GenerationSummary:
    """Render and write samples ``0 .. n-1`` that are not in the manifest yet.

    Args:
        out: output folder.
        config: resolved config written to ``config.json``.
        n: number of samples.
        render: renders sample ``index`` into files and its manifest record.
        resume: require an existing run to continue.
        progress: show a progress bar (tqdm, on stderr).
        on_sample: called with (index, record) after each manifest line is synced.
        summary: summary object to fill (lets the renderer add bad images to it).

    Returns:
        The :class:`GenerationSummary`.

    Raises:
        GenerationError: as :func:`prepare_output`.
    """
    out = Path(out)
    done = prepare_output(out, config, resume)
    summary = summary or GenerationSummary(out, n)
    summary.out, summary.n = out, n
    summary.skipped = len(done & set(range(n)))
    todo = [i for i in range(n) if i not in done]
    with (
        open(out / MANIFEST_NAME, "a", encoding="utf-8") as manifest,
        tqdm(
            total=n,
            initial=summary.skipped,
            disable=not progress,
            desc=str(config.get("kind")),
            unit="sample",
            leave=False,
        ) as bar,
    ):
        for index in todo:
            files, record = render(index)
            for rel, content in files.items():
                if isinstance(content, bytes):
                    with atomic_open(out / rel, "wb") as fh:
                        fh.write(content)
                else:
                    write_image(out / rel, content)
            manifest.write(json.dumps(record, default=json_default) + "\n")
            manifest.flush()
            os.fsync(manifest.fileno())
            summary.written += 1
            bar.update(1)
            if on_sample is not None:
                on_sample(index, record)
    return summary
