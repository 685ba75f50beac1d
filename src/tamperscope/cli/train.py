"""``tamperscope train``: train a detector from a YAML recipe (DOA-GAN, DMAC, MVSS)."""

from __future__ import annotations

from pathlib import Path

import typer

from tamperscope.errors import TamperscopeError


def train(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="YAML recipe (configs/*.yaml); with --resume and no --config, the run's config.yaml.",
    ),
    overrides: list[str] = typer.Option(
        [],
        "--set",
        help="Override a config key, e.g. --set optim.lr_generator=5e-4 (repeatable).",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --run-dir from its newest checkpoint."
    ),
    run_dir: Path | None = typer.Option(
        None, "--run-dir", help="Run folder (default: runs/<config file name>)."
    ),
    device: str | None = typer.Option(
        None, "--device", help="cpu, cuda or cuda:N (default: cuda when available)."
    ),
    max_steps: int | None = typer.Option(
        None, "--max-steps", min=1, help="Stop after this many steps in total."
    ),
    export: Path | None = typer.Option(
        None, "--export", help="Also write the final generator weights to this .safetensors file."
    ),
) -> None:
    """Train a copy-move detector (DOA-GAN recipe), a probe/donor pair model (DMAC recipe) or
    a manipulation localizer (MVSS recipe) on sets written by 'tamperscope synth'.

    The config's 'recipe' key picks the training recipe: doagan (copy-move models), dmac
    (probe/donor pair models) or mvss (localization models); without it, the model's
    registered task does. Defaults come
    from the code, then the YAML file, then --set overrides. The run folder
    receives config.yaml (the resolved config), checkpoints/, scalars.jsonl, tensorboard/ and
    summary.json. Under torchrun (WORLD_SIZE > 1) training is distributed over the processes.
    """
    from tamperscope.engine import export_weights, load_config
    from tamperscope.engine import train as run_training

    if run_dir is None:
        run_dir = Path("runs") / (config.stem if config is not None else "default")
    source = config
    if source is None and resume and (run_dir / "config.yaml").is_file():
        source = run_dir / "config.yaml"
    try:
        cfg = load_config(source, overrides)
        summary = run_training(cfg, run_dir, device=device, resume=resume, max_steps=max_steps)
        if export is not None and summary.get("checkpoint"):
            export_weights(summary["checkpoint"], export)
    except (KeyError, ValueError, TamperscopeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"trained {summary['step']} steps ({summary['epoch']} epochs) in {run_dir}")
    if summary.get("best_metric") is not None:
        best, at = summary["best_metric"], summary["best_step"]
        typer.echo(f"best {summary['monitor']} = {best:.4f} at step {at}")
    typer.echo(f"last checkpoint: {summary['checkpoint']}")
    if export is not None:
        typer.echo(f"weights exported to {export}")
