"""The ``harbour`` command line (typer + rich): ``simulate`` and ``replay``."""

from harbour.cli.main import app

__all__ = ["app"]
