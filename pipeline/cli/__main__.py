"""``python -m pipeline.cli``: how `dangan serve` starts the web UI (and how the tests run ``dangan``)."""

from pipeline.cli import app

app()
