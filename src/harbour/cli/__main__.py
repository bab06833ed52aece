"""``python -m harbour.cli``: the same as the ``harbour`` entry point."""

from harbour.cli.main import app

app(prog_name="harbour")
