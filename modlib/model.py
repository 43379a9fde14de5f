"""The two-module recurrent network (paper, section "Architectures").

Each module ``n`` has N tanh units, sees its own flattened digit ``x^(n)`` at every one of
T steps, and starts from ``h_0 = 0``:

    h_t^(n) = tanh(W_ih^(n) x^(n) + b_ih^(n) + W_hh^(n) h_{t-1}^(n) + b_hh^(n)
                   + W_sparse^(m->n) h_{t-1}^(m)),     m = 1 - n.

For speed the image term is computed once per sequence, and the two modules are stepped
together as one 2N-unit network whose recurrent matrix has the dense ``W_hh`` blocks on
the diagonal and the sparse interconnections off it. The interconnections are Deep-R
weights ``sign * theta * [theta > 0]`` (see ``modlib.deepr``).
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, fields
from typing import NamedTuple

import torch
from torch import nn

DECISIONS = ("max", "absmax")
MESSAGES = ("after", "before")
INITS = ("uniform", "pytorch")
READOUTS = ("separate", "shared")
# Cells (beyond the paper, which says its equation "could be easily adapted" to them): the paper's
# tanh RNN, a leaky one, GRU and LSTM. GATES: how many blocks of N units each layer feeding a cell has.
CELLS = ("rnn", "leaky", "gru", "lstm")
GATES = {"rnn": 1, "leaky": 1, "gru": 3, "lstm": 4}
LEAK = 0.5  # the leaky cell's h_t = (1 - LEAK) h_{t-1} + LEAK tanh(...): half-way to the tanh unit at each step
INIT_BOUND = 0.1


def require(checks: list[tuple[bool, str]]) -> None:
    """Raise ``ValueError`` with the message of the first check that fails."""
    for ok, message in checks:
        if not ok:
            raise ValueError(message)


def whole_number(name: str, value) -> int:
    """``value`` as a Python int (numpy's too, so that configs write to JSON), or a
    ``ValueError`` naming ``name`` when it is not a whole number."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


WHOLE_NUMBER_TYPES = ("int", "int | None")  # field annotations (strings, under `from __future__ import annotations`)


def require_whole_numbers(config) -> None:
    """Check that every field of a frozen dataclass ``config`` annotated ``int`` (or ``int |
    None``, None meaning a default) holds a whole number, storing it as a Python int."""
    for field in fields(config):
        value = getattr(config, field.name)
        if field.type in WHOLE_NUMBER_TYPES and value is not None:
            object.__setattr__(config, field.name, whole_number(field.name, value))


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines an architecture.

    ``n_connections`` is k, the number of interconnections per direction, so that the
    fraction of interconnections is ``p = k / n_hidden**2``. ``decision="absmax"`` and
    ``message="before"`` are the authors' code's variants (see the replication notes).
    ``init="uniform"`` draws every weight and bias from U(-0.1, 0.1), as the paper says;
    ``init="pytorch"`` uses PyTorch's defaults for ``nn.RNN`` and ``nn.Linear``, as the authors'
    code did: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) per layer. At N = 100 the two differ only in
    the bottleneck's readout (fan-in 5: bound 0.447). ``readout="shared"`` (beyond the paper: its
    authors' journal version) replaces the competitive decision by one readout over both
    modules: the two modules' readouts are added, which is one linear map of both states
    (with one bias, their sum). ``cell`` chooses the recurrent unit (`CELLS`): the paper's tanh RNN,
    or, beyond the paper, a leaky one, GRU or LSTM, with the other module's message added where
    ``W_hh h`` enters (for GRU and LSTM, to every gate's recurrent input).
    """

    n_hidden: int = 100
    n_connections: int = 1
    bottleneck: int | None = None
    n_steps: int = 5
    n_inputs: int = 784
    n_classes: int = 10
    decision: str = "max"
    message: str = "after"
    init: str = "uniform"
    readout: str = "separate"
    cell: str = "rnn"

    def __post_init__(self):
        require_whole_numbers(self)
        n2 = self.n_hidden ** 2
        checks = [
            (self.n_hidden >= 2, f"n_hidden (--hidden, units per module N) must be >= 2: one unit per module "
                                 f"leaves no choice of where a connection goes; got {self.n_hidden}"),
            (1 <= self.n_connections <= n2,
             f"n_connections must be between 1 and n_hidden**2 = {n2}, got {self.n_connections}"),
            (self.bottleneck is None or self.bottleneck >= 1,
             f"bottleneck must be None or >= 1, got {self.bottleneck}"),
            (self.n_steps >= 1, f"n_steps must be >= 1, got {self.n_steps}"),
            (self.decision in DECISIONS, f"decision must be one of {DECISIONS}, got {self.decision!r}"),
            (self.message in MESSAGES, f"message must be one of {MESSAGES}, got {self.message!r}"),
            (self.init in INITS, f"init must be one of {INITS}, got {self.init!r}"),
            (self.readout in READOUTS, f"readout must be one of {READOUTS} (or frozen on the command line: "
                                       f"separate readouts left at their initial weights), got {self.readout!r}"),
            (self.cell in CELLS, f"cell must be one of {CELLS}, got {self.cell!r}"),
            (self.cell == "rnn" or self.message == "after",
             f"the message enters before W_hh only in the tanh RNN (the authors' code); use message 'after' "
             f"for cell {self.cell!r}"),
        ]
        require(checks)

    @property
    def p(self) -> float:
        return self.n_connections / self.n_hidden ** 2

    def to_dict(self) -> dict:
        return asdict(self)

    def init_bound(self, fan_in: int) -> float:
        """The bound b of the U(-b, b) that a layer with ``fan_in`` inputs starts from."""
        return INIT_BOUND if self.init == "uniform" else 1 / fan_in ** 0.5


class Output(NamedTuple):
    decided: torch.Tensor    # [B, classes] readout of the deciding module, r_out
    readouts: torch.Tensor   # [B, 2, classes] r^(0), r^(1)
    decider: torch.Tensor    # [B] index mu of the deciding module
    hidden: torch.Tensor     # [B, 2, N] last hidden states h_T
    bottleneck: torch.Tensor | None  # [B, 2, bottleneck] b^(n), when present


def recurrence(drive: torch.Tensor, w: torch.Tensor, n_steps: int, per_step: bool = False) -> torch.Tensor:
    """Every state ``[T, B, 2N]`` of ``h_t = tanh(drive + h_{t-1} W^T)`` from ``h_0 = 0``;
    ``drive`` ``[B, 2N]`` is the input term plus biases, ``w`` ``[2N, 2N]``. Stacked models
    (`modlib.ensemble`) add a leading axis to both: ``[M, B, 2N]``, ``[M, 2N, 2N]``. With
    ``per_step``, ``drive`` has one per step, ``[T, B, 2N]`` (inputs that change over the trial)."""
    drives = drive if per_step else [drive] * n_steps
    hs = torch.empty((n_steps, *drive.shape[per_step:]), dtype=drive.dtype, device=drive.device)
    tanh_(hs[0].copy_(drives[0]))
    wt = w.transpose(-1, -2)
    product = torch.addmm if w.dim() == 2 else torch.baddbmm
    for t in range(1, n_steps):
        tanh_(product(drives[t], hs[t - 1], wt, out=hs[t]))
    return hs


def tanh_(z: torch.Tensor) -> torch.Tensor:
    """``tanh`` in place, as ``2 sigmoid(2z) - 1``: on the CPU, ATen's float tanh takes twice
    as long as these four passes (absolute error below 2e-7 either way)."""
    return z.mul_(2).sigmoid_().mul_(2).sub_(1)


def recurrence_backward(hs: torch.Tensor, w: torch.Tensor, grad_h: torch.Tensor, per_step: bool = False):
    """Back-propagation through time from the gradient at ``h_T``: returns the gradients of
    ``drive`` (each step's, ``[T, B, 2N]``, with ``per_step``) and ``w``, the latter as one
    product over all steps instead of T - 1."""
    dz = torch.empty_like(hs)  # gradient at each step's pre-activation
    dh = grad_h
    for t in range(len(hs) - 1, -1, -1):
        torch.addcmul(dh, dh * hs[t], hs[t], value=-1, out=dz[t])  # dh * (1 - h^2)
        if t > 0:
            dh = dz[t] @ w
    d_w = steps_and_batch(dz[1:]).transpose(-1, -2) @ steps_and_batch(hs[:-1])
    return (dz if per_step else dz.sum(0)), d_w


def steps_and_batch(h: torch.Tensor) -> torch.Tensor:
    """States ``[T, ..., B, W]`` as ``[..., T * B, W]``: every step's rows together, stacked models apart."""
    return h.movedim(0, -3).flatten(-3, -2)


def per_module(t: torch.Tensor) -> torch.Tensor:
    """A module-first tensor ``[..., 2, a, b]`` as ``[-1, a, b]``, one batch entry per module (of
    each stacked model), for ``bmm``."""
    return t.reshape(-1, *t.shape[-2:])


class Recurrence(torch.autograd.Function):
    """``h_T`` of `recurrence`, with a hand-written backward: autograd's per-step
    bookkeeping costs more than the matmuls at these sizes."""

    @staticmethod
    def forward(ctx, drive: torch.Tensor, w: torch.Tensor, n_steps: int, per_step: bool = False) -> torch.Tensor:
        """``h_T`` ``[B, 2N]``; keeps every state for the backward pass."""
        hs = recurrence(drive, w, n_steps, per_step)
        ctx.save_for_backward(hs, w)
        ctx.per_step = per_step
        return hs[-1].clone()

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor):
        """Gradients of ``drive`` and ``w`` (`recurrence_backward`)."""
        return *recurrence_backward(*ctx.saved_tensors, grad_h, ctx.per_step), None, None


def grad_buffer(p: torch.Tensor) -> torch.Tensor:
    """``p.grad``, made first when there is none, for a gradient to be written into."""
    if p.grad is None:
        p.grad = torch.empty_like(p)
    return p.grad


def linear(inp: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-module affine map: ``inp`` ``[B, 2, in]``, ``w`` ``[2, out, in]``, ``b`` ``[2, out]``
    (stacked models: a leading axis on each)."""
    return torch.einsum("...bmi,...moi->...bmo", inp, w) + b.unsqueeze(-3)


def uniform(generator: torch.Generator | None, bound: float, *shape) -> nn.Parameter:
    return nn.Parameter(torch.empty(*shape).uniform_(-bound, bound, generator=generator))


class ModularRNN(nn.Module):
    """Two recurrent modules joined by k sparse connections per direction.

    Parameters are stacked over modules (first axis = module n). ``theta[d]`` and
    ``sign[d]`` hold the interconnections from module d to module 1 - d; Deep-R keeps the signs
    fixed (all but its ``rewire=False`` control, `modlib.deepr`). All weights start
    U(-0.1, 0.1) (or PyTorch's defaults, ``init="pytorch"``); Deep-R's ``theta`` is set by
    ``modlib.deepr.init_theta``.
    """

    def __init__(self, n_hidden: int = 100, n_connections: int = 1, bottleneck: int | None = None,
                 seed: int | None = None, **options):
        super().__init__()
        from modlib.deepr import init_theta

        cfg = self.config = ModelConfig(n_hidden=n_hidden, n_connections=n_connections,
                                        bottleneck=bottleneck, **options)
        g = None if seed is None else torch.Generator().manual_seed(int(seed))
        n, c, width = cfg.n_hidden, cfg.n_classes, cfg.bottleneck
        # nn.RNN bounds its input weights by the hidden size too, as the layers fed by h do.
        bound, bottleneck_bound = cfg.init_bound(n), cfg.init_bound(width or 1)
        # w_ih is stored input-major, [2, inputs, N], so its gradient is contiguous (3x faster steps).
        gates = GATES[cfg.cell] * n  # every gate's block of units, in one layer
        self.w_ih, self.b_ih = uniform(g, bound, 2, cfg.n_inputs, gates), uniform(g, bound, 2, gates)
        self.w_hh, self.b_hh = uniform(g, bound, 2, gates, n), uniform(g, bound, 2, gates)
        if width:
            self.w_hb, self.b_hb = uniform(g, bound, 2, width, n), uniform(g, bound, 2, width)
            self.w_br, self.b_br = uniform(g, bottleneck_bound, 2, c, width), uniform(g, bottleneck_bound, 2, c)
        else:
            self.w_hr, self.b_hr = uniform(g, bound, 2, c, n), uniform(g, bound, 2, c)
        theta, sign = init_theta(n, cfg.n_connections, g)
        self.theta = nn.Parameter(theta)
        self.register_buffer("sign", sign)

    @classmethod
    def from_config(cls, cfg: ModelConfig, seed: int | None = None) -> "ModularRNN":
        return cls(seed=seed, **cfg.to_dict())

    def interconnections(self) -> torch.Tensor:
        """The effective sparse weights ``[2, N, N]``: ``sign * theta`` where ``theta > 0``, else 0."""
        return self.sign * torch.relu(self.theta)  # relu's gradient is 0 at theta = 0 too

    def recurrent_matrix(self) -> torch.Tensor:
        """The ``[2N, 2N]`` matrix of the joint recurrence (rows: receiving unit)."""
        c01, c10 = self.interconnections().unbind(-3)
        w0, w1 = self.w_hh.unbind(-3)
        if self.config.message == "before":  # authors' code: message enters before W_hh
            c01, c10 = w1 @ c01, w0 @ c10
        top = torch.cat([w0, c10], dim=-1)
        bottom = torch.cat([c01, w1], dim=-1)
        return torch.cat([top, bottom], dim=-2)

    def recurrent_matrix_gradients(self, d_w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradients of ``w_hh`` and ``theta`` from the gradient ``d_w`` of `recurrent_matrix`
        (used by hand-written back-propagation; ``tests/test_model.py`` checks it against autograd)."""
        n = self.config.n_hidden
        d_w_hh = torch.stack([d_w[..., :n, :n], d_w[..., n:, n:]], dim=-3)
        d_c = torch.stack([d_w[..., n:, :n], d_w[..., :n, n:]], dim=-3)  # d_c[d]: from module d to module 1 - d
        if self.config.message == "before":  # block = w_hh[1 - d] @ c[d]
            with torch.no_grad():
                c, w_hh = self.interconnections(), self.w_hh.flip(-3)
            d_w_hh += (d_c @ c.transpose(-1, -2)).flip(-3)
            d_c = w_hh.transpose(-1, -2) @ d_c
        return d_w_hh, d_c.mul_(self.sign).mul_(self.theta.detach() > 0)

    def per_step(self, x: torch.Tensor) -> bool:
        """Whether inputs ``x`` change over the trial: one image per step, ``[T, B, 2, n_inputs]``
        (`modlib.trial`), where the paper's are the same at every step, ``[B, 2, n_inputs]``."""
        if x.dim() == self.theta.dim() + 1:
            if self.theta.dim() > 3 or x.shape[0] != self.config.n_steps:
                raise ValueError(f"inputs that change over the trial are [T = {self.config.n_steps}, B, 2, inputs] "
                                 f"for one model (not stacked ones); got shape {tuple(x.shape)}")
            return True
        return False

    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """The input term plus both biases, ``[B, 2N]``, for inputs ``x`` ``[B, 2, n_inputs]``
        (stacked models: ``[M, B, 2N]`` for ``[M, B, 2, n_inputs]``). The image is the same at
        every step, so it is projected once, for both modules at once. Inputs that change over
        the trial (`per_step`) give one drive per step, ``[T, B, 2N]``."""
        if self.per_step(x):
            return self.input_drive(x.flatten(0, 1)).view(*x.shape[:2], -1)
        bias = (self.b_ih + self.b_hh).unsqueeze(-2)
        drive = torch.baddbmm(per_module(bias), per_module(x.transpose(-3, -2)), per_module(self.w_ih))
        batch = x.shape[:-2]
        return drive.view(*batch[:-1], 2, batch[-1], -1).transpose(-3, -2).reshape(*batch, -1)

    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """Last hidden states ``[B, 2, N]`` for inputs ``x`` of shape ``[B, 2, n_inputs]`` (or
        ``[T, B, 2, n_inputs]``, `per_step`)."""
        if self.config.cell != "rnn":
            return self.cell_states(x)[-1]
        per_step = self.per_step(x)
        h = Recurrence.apply(self.input_drive(x), self.recurrent_matrix(), self.config.n_steps, per_step)
        return h.view(*x.shape[per_step:-2], 2, self.config.n_hidden)

    @torch.no_grad()
    def every_state(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden states of every step, ``[T, B, 2, N]``; the last is `hidden_states`' ``h_T``."""
        if self.config.cell != "rnn":
            return self.cell_states(x)
        per_step = self.per_step(x)
        hs = recurrence(self.input_drive(x), self.recurrent_matrix(), self.config.n_steps, per_step)
        return hs.view(self.config.n_steps, *x.shape[per_step:-2], 2, self.config.n_hidden)

    def cell_states(self, x: torch.Tensor) -> torch.Tensor:
        """Every step's hidden states ``[T, ..., B, 2, N]`` of a leaky, GRU or LSTM cell, by autograd
        (the tanh RNN has its own fast path). Module n's message, ``C^(1-n -> n) h^(1-n)``, is added
        where ``W_hh h`` enters: to every gate's recurrent input."""
        per_step, n = self.per_step(x), self.config.n_hidden
        drive = torch.einsum("...bmi,...mig->...bmg", x, self.w_ih) + self.b_ih.unsqueeze(-3)
        w_hh, b_hh = self.w_hh, self.b_hh.unsqueeze(-3)
        towards = self.interconnections().flip(-3)  # towards[n]: the connections from module 1 - n to module n
        h = torch.zeros(*drive.shape[per_step:-1], n, dtype=drive.dtype, device=drive.device)
        memory, states = torch.zeros_like(h), []
        for t in range(self.config.n_steps):
            message = torch.einsum("...bmj,...mij->...bmi", h.flip(-2), towards)
            recurrent = torch.einsum("...bmj,...mgj->...bmg", h, w_hh) + b_hh
            h, memory = CELL_STEPS[self.config.cell](drive[t] if per_step else drive, recurrent, message, h, memory)
            states.append(h)
        return torch.stack(states)

    def readout_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The per-module linear maps from ``h_T`` to the readout, ``(weight [2, out, in], bias [2, out])``:
        through the bottleneck when there is one."""
        if self.config.bottleneck:
            return [(self.w_hb, self.b_hb), (self.w_br, self.b_br)]
        return [(self.w_hr, self.b_hr)]

    def readout(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Per-module readouts ``[B, 2, classes]`` (and bottleneck states) from ``h_T``."""
        states = [hidden]
        for w, b in self.readout_layers():
            states.append(linear(states[-1], w, b))
        return states[-1], (states[1] if self.config.bottleneck else None)

    def decide(self, readouts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Competitive max: the module whose readout has the largest value decides. With a shared
        readout the output is the sum of the two, and the module said to decide is the one that
        adds more to the winning class."""
        if self.config.readout == "shared":
            decided = readouts.sum(-2)
            winner = decided.argmax(-1)[..., None, None].expand(*readouts.shape[:-1], 1)
            return decided, readouts.take_along_dim(winner, dim=-1).squeeze(-1).argmax(-1)
        score = readouts.abs() if self.config.decision == "absmax" else readouts
        decider = score.amax(dim=-1).argmax(dim=-1)
        decided = readouts.take_along_dim(decider[..., None, None], dim=-2).squeeze(-2)
        return decided, decider

    def forward(self, x: torch.Tensor) -> Output:
        hidden = self.hidden_states(x)
        readouts, bottleneck = self.readout(hidden)
        decided, decider = self.decide(readouts)
        return Output(decided, readouts, decider, hidden, bottleneck)

    def module_parameters(self) -> dict[str, torch.Tensor]:
        """The dense, per-module parameters (everything but the interconnections)."""
        return {name: p for name, p in self.named_parameters() if name != "theta"}



# One step of each cell but the tanh RNN: the input terms, the recurrent terms (each gate's
# block of N units, W_hh h + b_hh), the message from the other module, the state and, for the
# LSTM, its memory cell; returns the new state and memory.

def per_gate(message: torch.Tensor, gates: int) -> torch.Tensor:
    """The message added to each of ``gates`` blocks."""
    return torch.cat([message] * gates, dim=-1)


def leaky_step(inputs, recurrent, message, h, memory):
    return torch.lerp(h, torch.tanh(inputs + recurrent + message), LEAK), memory


def gru_step(inputs, recurrent, message, h, memory):
    """PyTorch's GRU (reset r, update z, candidate n), the message in each gate's recurrent input:
    n = tanh(x_n + r * (W_hn h + b_hn + message)), h' = (1 - z) n + z h."""
    x_r, x_z, x_n = inputs.chunk(3, -1)
    h_r, h_z, h_n = (recurrent + per_gate(message, 3)).chunk(3, -1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return torch.lerp(torch.tanh(x_n + r * h_n), h, z), memory


def lstm_step(inputs, recurrent, message, h, memory):
    """An LSTM step (input, forget, cell and output gates), the message in each gate's recurrent input."""
    i, f, g, o = (inputs + recurrent + per_gate(message, 4)).chunk(4, -1)
    memory = torch.sigmoid(f) * memory + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(memory), memory


CELL_STEPS = {"leaky": leaky_step, "gru": gru_step, "lstm": lstm_step}
