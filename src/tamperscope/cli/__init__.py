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
def models() -> None:
    """List the registered models."""
    from tamperscope.registry import list_models
    from tamperscope.weights import default_weights

    for name in list_models():
        spec = default_weights(name)
        typer.echo(f"{name}\t{'shipped weights' if spec else 'no shipped weights'}")


def main() -> None:
    """Entry point of the ``tamperscope`` console script."""
    app()
