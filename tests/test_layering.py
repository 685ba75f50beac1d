"""Imports point one way: each subpackage imports only from layers below it.

io/types at the bottom; data and synth above; models; losses and inference; metrics and report;
evaluation and engine; api; cli and serve on top. No module imports a private name from another
module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tamperscope"

#: Layer of each top-level module or subpackage; a module may import from its own subpackage
#: and from any lower layer.
LAYERS: dict[str, int] = {
    "errors": 0,
    "types": 0,
    "io": 0,
    "version": 0,
    "data": 1,
    "synth": 2,
    "registry": 4,
    "models": 4,
    "weights": 4,
    "losses": 5,
    "inference": 5,
    "metrics": 6,
    "report": 6,
    "evaluate": 7,
    "engine": 8,
    "api": 9,
    "cli": 10,
    "serve": 10,
    "__main__": 11,
}

#: Modules of one layer that may import each other; other modules of one layer are peers
#: that may not (losses and inference, metrics and report, cli and serve).
SHARED_LAYERS = [{"errors", "types", "io", "version"}, {"registry", "models", "weights"}]


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, list[str], int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "tamperscope":
                out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tamperscope":
                    out.append((alias.name, [], node.lineno))
    return out


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        name = ".".join(rel.parts)
        found.append((name.removesuffix(".__init__"), path))
    return found


def test_every_subpackage_has_a_layer():
    tops = {_part(name) for name, _ in _modules()} - {"__init__"}
    assert tops <= set(LAYERS), f"give these a layer: {sorted(tops - set(LAYERS))}"


@pytest.mark.parametrize("name,path", _modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_imports_point_down(name, path):
    here = _part(name)
    if here == "__init__":  # the package's curated public API sits on top of everything
        return
    bad = []
    for module, names, line in _imports(path):
        there = _part(module)
        if there == here:
            continue
        if there == "__init__":
            bad.append(f"line {line}: imports the package root ({names}); import the module")
        elif LAYERS[there] > LAYERS[here]:
            bad.append(f"line {line}: {here} (layer {LAYERS[here]}) imports {module}")
        elif LAYERS[there] == LAYERS[here] and not _may_share_layer(here, there):
            bad.append(f"line {line}: {here} imports its peer {module}")
    assert not bad, f"{path.relative_to(SRC.parent)}:\n" + "\n".join(bad)


def _may_share_layer(here: str, there: str) -> bool:
    return any(here in group and there in group for group in SHARED_LAYERS)


@pytest.mark.parametrize("name,path", _modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_private_names_from_other_modules(name, path):
    bad = [
        f"line {line}: {alias} from {module}"
        for module, names, line in _imports(path)
        for alias in names
        if alias.startswith("_") and not alias.startswith("__") and module != name
    ]
    assert not bad, f"{path.relative_to(SRC.parent)} imports private names:\n" + "\n".join(bad)
