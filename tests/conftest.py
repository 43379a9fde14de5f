import pytest
import torch

from modlib import data

HAVE_MNIST = all((data.raw_dir(data.data_root()) / n).exists() for n in data.OFFICIAL_SHA256)
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason="real MNIST not present (run `make data`)")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
# Tests that take a device run on the CPU everywhere and on a GPU where there is one.
DEVICES = ["cpu", pytest.param("cuda", marks=needs_cuda)]
