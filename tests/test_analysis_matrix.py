import numpy as np
import pandas as pd

from modlib.analysis.frames import specialization_frame
from tests.analysis_helpers import PAPER_LEVELS, noiseless


def test_one_module_makes_both_modules_that_module():
    from modlib.analysis.matrix import one_module

    table = noiseless([1.0, 0.0], levels=[1e-4, 1.0])
    table.loc[(table.module == 1) & (table.subtask == 0), "value"] = 1.0  # module 1 less specialised
    for module, expected in ((0, 1.0), (1, 1 / 3)):
        spec = specialization_frame(one_module(table, module))
        sparse = spec[spec["p"] == 1e-4]
        assert np.allclose(sparse[["spec_0", "spec_1", "spec"]], expected)


def test_the_verdict_matrix_shows_each_module_where_they_disagree():
    from modlib.analysis.matrix import MATRIX_CLAIMS, verdict_matrix

    rising = noiseless(np.linspace(1.0, 0.0, len(PAPER_LEVELS)))
    flat = noiseless([0.2] * len(PAPER_LEVELS))
    table = pd.concat([rising[rising.module == 0], flat[flat.module == 1]], ignore_index=True)
    accuracy = table[(table.metric == "correlation") & (table.module == 0) & (table.subtask == 0)].assign(
        metric="accuracy", module=np.nan, subtask=np.nan, value=0.95)
    matrix = verdict_matrix({"both rise": pd.concat([rising, accuracy]),
                             "module 0 rises": pd.concat([table, accuracy])}, resamples=50)
    assert list(matrix.index) == list(MATRIX_CLAIMS.values())
    assert matrix.loc["(a) rises with sparsity", ("both rise", "correlation")] == "yes"
    assert matrix.loc["(a) rises with sparsity", ("module 0 rises", "correlation")] == "yes (0: yes, 1: no)"
    assert matrix.loc["(a) rises with sparsity", ("both rise", "bottleneck")] == "·"  # no bottleneck rows
    assert matrix.loc["(e) every model performs well", ("both rise", "correlation")] == "yes"
