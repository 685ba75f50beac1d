"""The ``tamperscope`` command line (typer). Commands stay thin: they call the library."""

from __future__ import annotations

import typer

from tamperscope.cli import analyze as _analyze
from tamperscope.cli import analyze_pair as _analyze_pair
from tamperscope.cli import evaluate as _evaluate
from tamperscope.cli import synth as _synth
from tamperscope.cli import train as _train
from tamperscope.version import __version__

app = typer.Typer(
    name="tamperscope",
    help="Image tampering detection and localization toolkit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"tamperscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version."
    ),
) -> None:
    """Image tampering detection and localization toolkit."""


app.add_typer(_synth.app, name="synth")
app.command("analyze")(_analyze.analyze)
app.command("analyze-pair")(_analyze_pair.analyze_pair)
app.command("evaluate")(_evaluate.evaluate)
app.command("train")(_train.train)


@app.command("models")
def models(
    task: str = typer.Option(
        None,
        "--task",
        help="only models of this task: copy_move, localization, inpainting_box or pair",
    ),
) -> None:
    """List the registered models: task, whether they train, and their shipped weights."""
    from rich.console import Console
    from rich.table import Table

    from tamperscope.registry import Task, list_models, model_info
    from tamperscope.weights.weights import default_weights, list_weights

    try:
        names = list_models(task)
    except ValueError:
        typer.echo(
            f"error: unknown task {task!r}; choose from {', '.join(t.value for t in Task)}",
            err=True,
        )
        raise typer.Exit(2) from None
    table = Table("model", "task", "trains", "shipped weights (default first)")
    for name in names:
        info = model_info(name)
        default = default_weights(name)
        tags = [w for w in list_weights(name) if default is None or w != default.name]
        shipped = ([default.name] if default else []) + tags
        trains = "yes" if info.trainable else "no"
        none = "not needed (training-free)" if not info.trainable else "none"
        table.add_row(name, info.task.value, trains, ", ".join(shipped) or none)
    Console(width=120).print(table)


def main() -> None:
    """Entry point of the ``tamperscope`` console script."""
    app()
