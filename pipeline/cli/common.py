"""What every ``dangan`` command module shares: consoles, settings loading, logging, progress
bars, who runs the command, and how a refused command ends.

The only module of :mod:`pipeline.cli` whose names the others import.
"""

from __future__ import annotations

import getpass
import logging
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pipeline.config import ConfigError, Settings, load_settings
from pipeline.text import mask_private_numbers, printable

__all__ = ["console", "current_user", "err", "fail", "load_cli_settings", "progress_bar", "setup_logging", "shown"]

console = Console()
err = Console(stderr=True, soft_wrap=True)  # messages stay whole for logs and grep


def load_cli_settings() -> Settings:
    """The settings; a configuration error is printed and ends the command with exit 2."""
    try:
        return load_settings()
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def setup_logging(verbose: bool) -> None:
    from pipeline import logs

    logs.setup(logging.DEBUG if verbose else logging.INFO)  # ID numbers masked in every line


def shown(text: str | None) -> str:
    """A file name, title or reason for a terminal: personal numbers masked (as snippets
    are), no escape sequences or line breaks a file name could smuggle in."""
    return printable(mask_private_numbers(text or ""))


def progress_bar() -> Progress:
    """A progress bar on stderr, so that stdout stays clean."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err)


def current_user(user: str | None = None) -> str:
    """Who is recorded as deciding: ``user`` (a ``--user`` option) or else the login name."""
    return user or getpass.getuser()


def fail(exc: Exception) -> NoReturn:
    """Print why the command was refused (in red, on stderr) and end it with exit 1."""
    err.print(f"[red]{exc}[/red]")
    raise typer.Exit(1)
