"""``dangan`` command line (Typer + Rich). ``--json`` output is stable: see README.

This module only assembles ``app`` (the ``dangan`` console script); the commands live in:

- :mod:`pipeline.cli.service`: version, init, watch, serve, status, web
- :mod:`pipeline.cli.items`: ingest, search, ocr
- :mod:`pipeline.cli.index`: index rebuild, index import
- :mod:`pipeline.cli.filing`: review, classify, train, renumber, labels, export; volume …, taxonomy …
- :mod:`pipeline.cli.access`: user …, audit …, register …
- :mod:`pipeline.cli.common`: what they share (consoles, settings, logging, progress bars, the user)

The command modules import heavy modules inside the commands, so that ``dangan --help`` and
every command start quickly.
"""

from __future__ import annotations

import typer

from pipeline.cli import access, filing, index, items, service

__all__ = ["app"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="dangan: scanner inbox → Chinese OCR → PDF/A → search")

# In this order in `dangan --help`: commands first, then the groups.
for command in (service.version, service.init, service.watch, service.serve, items.ingest, items.search,
                service.status, items.ocr, service.web,
                filing.review, filing.classify, filing.train, filing.renumber, filing.labels, filing.export):
    app.command()(command)
app.add_typer(index.index_app, name="index")
app.add_typer(filing.volume_app, name="volume")
app.add_typer(filing.taxonomy_app, name="taxonomy")
app.add_typer(access.user_app, name="user")
app.add_typer(access.audit_app, name="audit")
app.add_typer(access.register_app, name="register")
