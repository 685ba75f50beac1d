"""``tamperscope synth ...``: synthetic forgery generation."""

from __future__ import annotations

import typer

app = typer.Typer(help="Generate synthetic forgeries with masks and a manifest.", no_args_is_help=True)
