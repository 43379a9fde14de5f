"""Run the book's text notebooks (jupytext MyST Markdown) under nbval.

nbval 0.11 collects only ``.ipynb``; this collector reads ``book/*.md`` chapters with
jupytext instead. Cells run in order in one kernel; ``--nbval-lax`` because text
notebooks carry no stored outputs to compare.
"""

import functools
import os
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent
BOOK = ROOT / "book"
# Chapter kernels run in book/; they must import this checkout's modlib.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
collect_ignore = ["_build", ".venv"]


@functools.cache
def text_notebook():
    """The collector class, made only when chapters are collected: `pytest tests` then needs
    neither nbval nor jupytext (a GPU machine's image, say, has neither)."""
    import jupytext
    import nbval.plugin

    class TextNotebook(nbval.plugin.IPyNbFile):
        def collect(self):
            read = lambda path, as_version: jupytext.read(path)
            with mock.patch.object(nbval.plugin.nbformat, "read", read):
                yield from super().collect()

    return TextNotebook


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    chapters = getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)
    if chapters and file_path.suffix == ".md" and file_path.parent == BOOK and file_path.name != "README.md":
        return text_notebook().from_parent(parent, path=file_path)
