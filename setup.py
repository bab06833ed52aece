"""Build hook. Pure Python by default; with HARBOUR_COMPILE=1 the engine's hot modules are
compiled with mypyc (opt-in: see `make bench-compiled` and docs/performance.md).

The compiled build is installed non-editable into its own venv, so compiled modules never
sit beside the sources in src/ where they would shadow edits.
"""

import os

from setuptools import setup

HOT_MODULES = [
    "src/harbour/kernel/money.py",
    "src/harbour/ledger/book.py",
    "src/harbour/compliance/margin_assets.py",
    "src/harbour/venue/accounts.py",
    "src/harbour/venue/book.py",
    "src/harbour/venue/config.py",
    "src/harbour/venue/engine.py",
    "src/harbour/venue/funds.py",
    "src/harbour/venue/instruments.py",
    "src/harbour/venue/margin.py",
    "src/harbour/venue/matching.py",
    "src/harbour/venue/orders.py",
    "src/harbour/venue/rejects.py",
    "src/harbour/venue/settlement.py",
    "src/harbour/venue/state.py",
]

if os.environ.get("HARBOUR_COMPILE") == "1":
    from mypyc.build import mypycify

    setup(ext_modules=mypycify(HOT_MODULES, opt_level="3", multi_file=True))
else:
    setup()
