"""What every ``dangan`` command module shares: consoles, settings loading, progress bars."""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.config import ConfigError, Settings, load_settings

console = Console()
err = Console(stderr=True, soft_wrap=True)  # messages stay whole for logs and grep


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2)


def _logging(verbose: bool) -> None:
    from pipeline import logs

    logs.setup(logging.DEBUG if verbose else logging.INFO)  # ID numbers masked in every line


def shown(text: str | None) -> str:
    """A file name, title or reason for a terminal: personal numbers masked (as snippets
    are), no escape sequences or line breaks a file name could smuggle in."""
    from pipeline.text import mask_private_numbers
    from pipeline.text import printable

    return printable(mask_private_numbers(text or ""))


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err)
