"""The fast CPU training step: the seed network's forward and backward written out as preallocated ATen calls.

At the seed's sizes (a few MFLOP per batch) a step costs what the framework spends around the
arithmetic: autograd graph building, one allocation per intermediate, a Python loop over the
parameters in Adam and clipping. This step keeps the algorithm (the same layers computed by the
same kernels: addmm, native_batch_norm, relu, dropout, MSE or log_softmax + nll_loss, and the
backward kernels autograd would call; clipping by total norm; Adam with L2 weight decay) and drops
that overhead: parameters and gradients live in flat buffers (flat_parameters), every intermediate
has a buffer per batch size written through out= variants (BatchNorm's backward kernel allocates its
own results: its out= wrapper computes them and then copies, which costs more), the backward pass
calls the backward kernels directly, and batches are contiguous slices of a per-epoch shuffled copy
of the data.

Dropout keeps each unit with probability 1 - p and scales kept units by 1 / (1 - p), like eager
dropout; its masks come from one uniform draw per step compared with 1 - p (a Bernoulli(1 - p)
sample at half the cost of bernoulli_ on the CPU), so with dropout on the masks differ from the
eager run's while their distribution is the same. With dropout off the step reproduces the eager
reference up to floating-point rounding.

FlatAutogradStep is the fallback for networks or losses this module does not recognise: the same
flat buffers, with autograd for the gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from trainer_service.models.flat_parameters import FlatAdam, FlatParameters, GradientClipper, ShuffledData

__all__ = ["ExplicitStep", "FlatAutogradStep", "explicit_step_supports"]

_aten = torch.ops.aten
_MEAN = 1  # reduction=mean in ATen's loss kernels
_IGNORE_INDEX = -100
_BOTH = [True, True, True]


@dataclass(frozen=True)
class _Layer:
    """One Linear (with the BatchNorm1d after it, for hidden layers) as views of the flat buffers."""

    weight: torch.Tensor  # (out, in)
    weight_t: torch.Tensor  # (in, out): addmm's mat2
    bias: torch.Tensor
    grad_weight: torch.Tensor
    grad_bias: torch.Tensor
    norm: nn.BatchNorm1d | None
    gamma: torch.Tensor | None
    beta: torch.Tensor | None
    grad_gamma: torch.Tensor | None
    grad_beta: torch.Tensor | None


class _Workspace:
    """Every intermediate of one step for one batch size, allocated once."""

    def __init__(self, rows: int, widths: list[int], n_outputs: int, dropout: bool, like: torch.Tensor,
                 classify: bool) -> None:
        def empty(*shape: int) -> torch.Tensor:
            return torch.empty(shape, device=like.device, dtype=like.dtype)

        self.z = [empty(rows, width) for width in widths]  # linear outputs
        self.a = [empty(rows, width) for width in widths]  # batch-norm outputs, ReLU applied in place
        self.mean = [empty(width) for width in widths]
        self.invstd = [empty(width) for width in widths]
        # All dropout masks in one buffer, so one uniform_ call draws them.
        self.noise_all = empty(rows * sum(widths)) if dropout else None
        self.noise: list[torch.Tensor] = []
        self.h = list(self.a)  # layer outputs: after dropout, or the ReLU outputs themselves
        if self.noise_all is not None:
            offset = 0
            for width in widths:
                self.noise.append(self.noise_all[offset : offset + rows * width].view(rows, width))
                offset += rows * width
            self.h = [empty(rows, width) for width in widths]
        self.grad_h = [empty(rows, width) for width in widths]
        self.grad_a = [empty(rows, width) for width in widths]
        self.out = empty(rows, n_outputs)
        self.grad_out = empty(rows, n_outputs)
        self.loss = empty()
        self.squared_error = empty(rows, n_outputs)
        self.log_probs = empty(rows, n_outputs)
        self.grad_log_probs = empty(rows, n_outputs)
        self.total_weight = empty()


@dataclass(frozen=True)
class _Layout:
    """build_network's Sequential taken apart: (Linear, BatchNorm1d) pairs, the head, the dropout rate."""

    hidden: list[tuple[nn.Linear, nn.BatchNorm1d]]
    head: nn.Linear
    dropout: float


def _layout(module: nn.Module) -> _Layout | None:
    """The layout if `module` is build_network's Sequential (one dropout rate throughout), else None."""
    if not isinstance(module, nn.Sequential):
        return None
    layers = list(module)
    if not layers or (len(layers) - 1) % 4:
        return None
    hidden: list[tuple[nn.Linear, nn.BatchNorm1d]] = []
    rates: set[float] = set()
    for index in range(0, len(layers) - 1, 4):
        linear, norm, relu, dropout = layers[index : index + 4]
        if not (
            type(linear) is nn.Linear and linear.bias is not None
            and type(norm) is nn.BatchNorm1d and norm.affine and norm.track_running_stats
            and norm.momentum is not None and norm.running_mean is not None
            and type(relu) is nn.ReLU and type(dropout) is nn.Dropout and 0 <= dropout.p < 1
        ):
            return None
        hidden.append((linear, norm))
        rates.add(float(dropout.p))
    head = layers[-1]
    if type(head) is not nn.Linear or head.bias is None or len(rates) > 1:
        return None
    return _Layout(hidden, head, rates.pop() if rates else 0.0)


def _loss_kind(loss_fn: nn.Module) -> str | None:
    if type(loss_fn) is nn.MSELoss and loss_fn.reduction == "mean":
        return "mse"
    if (
        type(loss_fn) is nn.CrossEntropyLoss and loss_fn.reduction == "mean" and loss_fn.weight is None
        and loss_fn.ignore_index == _IGNORE_INDEX and loss_fn.label_smoothing == 0.0
    ):
        return "cross_entropy"
    return None


def explicit_step_supports(module: nn.Module, loss_fn: nn.Module, features: torch.Tensor) -> bool:
    """True when ExplicitStep can train `module` (build_network's layout) on `loss_fn` (MSE or
    cross-entropy) with float32 `features` on the CPU."""
    return (
        _layout(module) is not None and _loss_kind(loss_fn) is not None
        and features.dtype == torch.float32 and features.device.type == "cpu"
    )


class ExplicitStep:
    """One Adam step of the seed network per call, with the backward pass called kernel by kernel."""

    def __init__(self, module: nn.Module, loss_fn: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                 learning_rate: float, weight_decay: float, clip_norm: float) -> None:
        layout = _layout(module)
        kind = _loss_kind(loss_fn)
        if layout is None or kind is None:
            raise ValueError("ExplicitStep needs build_network's layout and an MSE or cross-entropy loss")
        self._classify = kind == "cross_entropy"
        self._flat = FlatParameters(module)
        self._adam = FlatAdam(self._flat, learning_rate, weight_decay)
        self.optimizer = self._adam.optimizer
        self._clip = GradientClipper(self._flat.grad, clip_norm) if clip_norm > 0 else None
        self._data = ShuffledData(*train)
        self._hidden = [self._layer(linear, norm) for linear, norm in layout.hidden]
        self._head = self._layer(layout.head, None)
        self._norms = [norm for _, norm in layout.hidden]
        self._keep = 1.0 - layout.dropout
        self._one = torch.ones((), device=train[0].device, dtype=train[0].dtype)
        self._total = torch.zeros((), device=train[0].device, dtype=train[0].dtype)
        self._workspaces: dict[int, _Workspace] = {}
        self._steps = 0

    def _layer(self, linear: nn.Linear, norm: nn.BatchNorm1d | None) -> _Layer:
        views = self._flat.views
        weight, bias = views[linear.weight], views[linear.bias]  # type: ignore[index]
        gamma = views[norm.weight] if norm is not None else None  # type: ignore[index]
        beta = views[norm.bias] if norm is not None else None  # type: ignore[index]
        return _Layer(
            weight=weight.value, weight_t=weight.value.t(), bias=bias.value,
            grad_weight=weight.grad, grad_bias=bias.grad, norm=norm,
            gamma=None if gamma is None else gamma.value, beta=None if beta is None else beta.value,
            grad_gamma=None if gamma is None else gamma.grad, grad_beta=None if beta is None else beta.grad,
        )

    def _workspace(self, rows: int) -> _Workspace:
        workspace = self._workspaces.get(rows)
        if workspace is None:
            widths = [layer.weight.shape[0] for layer in self._hidden]
            workspace = _Workspace(rows, widths, self._head.weight.shape[0], self._keep < 1.0, self._total,
                                   self._classify)
            self._workspaces[rows] = workspace
        return workspace

    def start_epoch(self, order: torch.Tensor) -> None:
        """Shuffle the data copy by `order` and reset the epoch's loss sum."""
        self._data.shuffle(order)
        self._total.zero_()
        self._steps = 0

    def step(self, start: int, stop: int) -> None:
        """Forward, backward, clip and Adam on rows [start, stop) of the shuffled copy."""
        rows = stop - start
        work = self._workspace(rows)
        x = self._data.features[start:stop]
        self._forward(x, work)
        self._loss(self._data.targets[start:stop], work)
        self._total.add_(work.loss, alpha=rows)
        self._backward(x, work)
        if self._clip is not None:
            self._clip()
        self._adam.step()
        self._steps += 1

    def _forward(self, x: torch.Tensor, work: _Workspace) -> None:
        if work.noise_all is not None:  # Bernoulli(keep) masks scaled by 1 / keep, as eager dropout's
            work.noise_all.uniform_()
            torch.lt(work.noise_all, self._keep, out=work.noise_all)
            work.noise_all.div_(self._keep)
        h = x
        for i, layer in enumerate(self._hidden):
            norm = layer.norm
            assert norm is not None
            torch.addmm(layer.bias, h, layer.weight_t, out=work.z[i])
            torch.native_batch_norm(
                work.z[i], layer.gamma, layer.beta, norm.running_mean, norm.running_var, True,
                norm.momentum, norm.eps, out=(work.a[i], work.mean[i], work.invstd[i]),
            )
            torch.relu_(work.a[i])
            if work.noise:
                torch.mul(work.a[i], work.noise[i], out=work.h[i])
            h = work.h[i]
        torch.addmm(self._head.bias, h, self._head.weight_t, out=work.out)

    def _loss(self, targets: torch.Tensor, work: _Workspace) -> None:
        """The mean loss into work.loss and its gradient with respect to the outputs into work.grad_out."""
        if not self._classify:
            # mse_loss's out= variant resizes a scalar out: this is its kernel's arithmetic, then the mean.
            torch.sub(work.out, targets, out=work.squared_error)
            work.squared_error.square_()
            torch.mean(work.squared_error, (0, 1), out=work.loss)
            _aten.mse_loss_backward.grad_input(self._one, work.out, targets, _MEAN, grad_input=work.grad_out)
            return
        _aten._log_softmax.out(work.out, 1, False, out=work.log_probs)
        _aten.nll_loss_forward.output(work.log_probs, targets, None, _MEAN, _IGNORE_INDEX,
                                      output=work.loss, total_weight=work.total_weight)
        _aten.nll_loss_backward.grad_input(self._one, work.log_probs, targets, None, _MEAN, _IGNORE_INDEX,
                                           work.total_weight, grad_input=work.grad_log_probs)
        _aten._log_softmax_backward_data.out(work.grad_log_probs, work.log_probs, 1, work.out.dtype,
                                             out=work.grad_out)

    def _backward(self, x: torch.Tensor, work: _Workspace) -> None:
        """Write every parameter's gradient into the flat gradient (overwritten, so never zeroed)."""
        head = self._head
        last = len(self._hidden) - 1
        torch.mm(work.grad_out.t(), work.h[last] if last >= 0 else x, out=head.grad_weight)
        torch.sum(work.grad_out, 0, out=head.grad_bias)
        if last >= 0:
            torch.mm(work.grad_out, head.weight, out=work.grad_h[last])
        for i in range(last, -1, -1):
            layer = self._hidden[i]
            norm = layer.norm
            assert norm is not None
            grad = work.grad_h[i]
            if work.noise:
                grad.mul_(work.noise[i])
            _aten.threshold_backward.grad_input(grad, work.a[i], 0, grad_input=work.grad_a[i])
            # The functional kernel is cheaper than its out= wrapper (which computes, then copies all three).
            grad_z, grad_gamma, grad_beta = _aten.native_batch_norm_backward.default(
                work.grad_a[i], work.z[i], layer.gamma, norm.running_mean, norm.running_var,
                work.mean[i], work.invstd[i], True, norm.eps, _BOTH,
            )
            layer.grad_gamma.copy_(grad_gamma)  # type: ignore[union-attr]
            layer.grad_beta.copy_(grad_beta)  # type: ignore[union-attr]
            torch.mm(grad_z.t(), work.h[i - 1] if i > 0 else x, out=layer.grad_weight)
            torch.sum(grad_z, 0, out=layer.grad_bias)
            if i > 0:
                torch.mm(grad_z, layer.weight, out=work.grad_h[i - 1])

    def finish_epoch(self) -> torch.Tensor:
        """The epoch's sum of batch-mean losses weighted by batch rows (a device scalar)."""
        for norm in self._norms:  # what BatchNorm1d.forward counts, once per epoch instead of per step
            assert norm.num_batches_tracked is not None
            norm.num_batches_tracked.add_(self._steps)
        self._steps = 0
        return self._total

    def close(self) -> None:
        """Give the module's parameters their own storage back."""
        self._flat.release()


class FlatAutogradStep:
    """The flat buffers and shuffled slices with autograd for the gradients, for any module and loss."""

    def __init__(self, module: nn.Module, loss_fn: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                 learning_rate: float, weight_decay: float, clip_norm: float) -> None:
        self._module = module
        self._loss_fn = loss_fn
        self._flat = FlatParameters(module)
        self._adam = FlatAdam(self._flat, learning_rate, weight_decay) if self._flat.param.is_cpu else None
        self.optimizer = self._adam.optimizer if self._adam is not None else torch.optim.Adam(
            [self._flat.param], lr=learning_rate, weight_decay=weight_decay, foreach=True
        )
        self._clip = GradientClipper(self._flat.grad, clip_norm) if clip_norm > 0 else None
        self._data = ShuffledData(*train)
        self._total = torch.zeros((), device=train[0].device, dtype=train[0].dtype)

    def start_epoch(self, order: torch.Tensor) -> None:
        """Shuffle the data copy by `order` and reset the epoch's loss sum."""
        self._data.shuffle(order)
        self._total.zero_()

    def step(self, start: int, stop: int) -> None:
        """Forward, backward (accumulating into the zeroed flat gradient), clip and Adam."""
        self._flat.grad.zero_()
        loss = self._loss_fn(self._module(self._data.features[start:stop]), self._data.targets[start:stop])
        loss.backward()
        if self._clip is not None:
            self._clip()
        if self._adam is not None:
            self._adam.step()
        else:
            self.optimizer.step()
        self._total.add_(loss.detach(), alpha=stop - start)

    def finish_epoch(self) -> torch.Tensor:
        """The epoch's sum of batch-mean losses weighted by batch rows (a device scalar)."""
        return self._total

    def close(self) -> None:
        """Give the module's parameters their own storage back."""
        self._flat.release()
