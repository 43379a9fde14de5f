import pytest

from modlib import data

HAVE_MNIST = all((data.raw_dir(data.data_root()) / n).exists() for n in data.OFFICIAL_SHA256)
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason="real MNIST not present (run `make data`)")
