"""Sphinx extension: make the repository's ``modlib`` importable by autodoc and by the
notebook kernels, which run with their working directory in ``book/``."""

import os
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])


def setup(app):
    sys.path.insert(0, ROOT)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    return {"parallel_read_safe": True}
