"""modlib: the tested library behind the reproduction of Béna & Goodman,
*Extreme sparsity gives rise to functional specialization* (arXiv 2106.02626).

One module per concept the book teaches: ``data``, ``task``, ``model``, ``deepr``,
``train``, ``structure``, ``metrics``, ``sweep``, ``plots``; ``python -m modlib`` is the CLI.
"""

__version__ = "0.1.0"
