"""The ``tamperscope`` command line (typer). Commands stay thin: they call the library."""

from __future__ import annotations

import typer

from tamperscope import __version__
from tamperscope.cli import evaluate as _evaluate
from tamperscope.cli import synth as _synth

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
app.command("evaluate")(_evaluate.evaluate)


def main() -> None:
    """Entry point of the ``tamperscope`` console script."""
    app()
