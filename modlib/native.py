"""The training step compiled (``engine="native"``): the same arithmetic as the Python step of
`modlib.train` (hand-written gradients, then Adadelta), in one C++ call (``native.cpp``).

At batch 128 the Python step spends about two thirds of its time outside the matrix
products, in some sixty small tensor operations that each pay for Python's and PyTorch's
dispatch; the C++ step does that work in a few loops, and calls the same ATen products.
Deep-R's step is compiled too (`NativeDeepR`; its ``rewire=False`` control stays Python).
The two engines agree to float rounding (``tests/test_native.py``), not bit for bit, so a
model trained by one is not the bit-identical twin of the same seed trained by the other;
every stored result but ``paper-native`` was made with ``engine="torch"``. CPU only, and
without the authors' ``message="before"`` variant.

The C++ is compiled on first use with ``torch.utils.cpp_extension`` (a C++ compiler and the
``ninja`` package, both installed by ``make``), about half a minute, and cached after that.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sysconfig
from pathlib import Path

import torch

from modlib.deepr import REACTIVATION_THETA, DeepR
from modlib.model import grad_buffer

ENGINES = ("torch", "native")
SOURCE = Path(__file__).with_name("native.cpp")
# No -march=native and no fast-math: the compiled loops round the same way on every x86-64
# CPU, and a cached build still runs if the cache moves to another machine.
FLAGS = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-ffp-contract=off"]


def check_engine(engine: str, message: str = "after", device: str = "cpu", readout: str = "separate",
                 cell: str = "rnn") -> None:
    """Refuse, with the fix, an engine that cannot train this model here."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "native" and cell != "rnn":
        raise ValueError(f"engine 'native' trains the tanh RNN only (the paper's); use engine 'torch' for cell {cell!r}")
    if engine == "native" and readout != "separate":
        raise ValueError(f"engine 'native' trains separate readouts only (the paper's); use engine 'torch' for "
                         f"readout={readout!r}")
    if engine == "native" and message != "after":
        raise ValueError(f"engine 'native' trains only message='after' (the paper's); "
                         f"use engine 'torch' for message={message!r}")
    if engine == "native" and torch.device(device).type != "cpu":
        raise ValueError(f"engine 'native' runs on the CPU only; use engine 'torch' on {device!r}")


@functools.cache
def extension():
    """The compiled step (built on first use, then loaded from PyTorch's extension cache)."""
    # pip installs ninja beside this Python, which is not on PATH unless its venv is activated
    scripts = sysconfig.get_path("scripts")
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([scripts, os.environ.get("PATH", "")])
    missing = [tool for tool in ("c++", "ninja") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"engine 'native' is compiled on first use, and this machine lacks {', '.join(missing)}: "
                           f"install a C++ compiler (e.g. apt install g++) and `pip install ninja`, "
                           f"or use engine 'torch'")
    # PyTorch warns on import that there is no CUDA runtime: true, and no matter for a CPU build.
    logging.getLogger("torch.utils.cpp_extension").addFilter(lambda record: "CUDA_HOME" not in record.getMessage())
    from torch.utils.cpp_extension import load
    return load(name="modlib_native", sources=[str(SOURCE)], extra_cflags=FLAGS)


def fused_step(model, dense, images: torch.Tensor, i0: torch.Tensor, i1: torch.Tensor, target: torch.Tensor):
    """Gradients of the cross-entropy on the pairs ``(i0, i1)`` of rows of ``images``, written
    into the parameters' ``.grad`` (those Adadelta trains: into its flat buffer), then one
    Adadelta step of ``dense`` unless the loss is not finite. Returns ``(loss, decided)``."""
    params = [model.w_ih, model.b_ih, model.w_hh, model.b_hh]
    params += [p for layer in model.readout_layers() for p in layer] + [model.theta]
    trained = {id(p): g for p, g in zip(dense.params, dense.grad_views)}
    grads = [trained.get(id(p)) for p in params]
    grads = [g if g is not None else grad_buffer(p) for g, p in zip(grads, params)]  # theta; a frozen readout
    state = [dense.flat, dense.grad, dense.square_avg, dense.acc_delta]
    return extension().step(images, i0, i1, target, [p.detach() for p in params], grads, model.sign, state,
                            dense.lr, dense.rho, dense.eps, model.config.n_steps, model.config.decision == "absmax")


class NativeDeepR(DeepR):
    """`modlib.deepr.DeepR` with its Adam and random-walk step and its rewiring compiled. The
    random numbers are drawn in Python, as `DeepR` draws them, so the two pick the same
    connections, but for ties between random keys: here the lower entry wins, where `DeepR`
    leaves them to PyTorch's topk. Its ``rewire=False`` control is `DeepR`'s own, in Python."""

    def move(self, grad: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        cfg = self.config
        if not cfg.rewire:
            return super().move(grad, noise)
        return extension().deepr_move(self.theta.detach().view(2, -1), self.index, grad, self.m, self.v, self.steps,
                                      self.corrections, noise, cfg.lr, *cfg.betas, cfg.eps, self.noise_std)

    def activate(self, died: torch.Tensor, key: torch.Tensor) -> int:
        return extension().deepr_activate(self.theta.detach().view(2, -1), self.index, died, key, REACTIVATION_THETA)
