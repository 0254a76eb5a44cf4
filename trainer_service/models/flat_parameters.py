"""One flat buffer for a module's parameters and one for their gradients; the per-epoch shuffled data copy.

With every parameter a view into one contiguous tensor, clipping by total norm is one norm and one
multiply, and Adam is one fused update of one tensor, instead of a Python loop over the parameters.
Adam's weight decay then applies to every element, BatchNorm and biases included, exactly as
torch.optim.Adam(module.parameters(), weight_decay=...) does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["FlatParameters", "ParameterViews", "ShuffledData", "GradientClipper", "FlatAdam"]

_ALIGN_BYTES = 64


@dataclass(frozen=True)
class ParameterViews:
    """Detached views of one parameter and of its gradient inside the flat buffers."""

    value: torch.Tensor
    grad: torch.Tensor


class FlatParameters:
    """The module's parameters re-seated as views of one flat leaf tensor; their .grad views of one flat grad.

    The module keeps its Parameter objects (state_dict, eval and autograd see the same tensors); only
    their storage moves. release() gives each parameter its own storage again.
    """

    def __init__(self, module: nn.Module) -> None:
        self._parameters = list(module.parameters())
        if not self._parameters:
            raise ValueError("the module has no parameters")
        first = self._parameters[0]
        if any(p.device != first.device or p.dtype != first.dtype for p in self._parameters):
            raise ValueError("flat parameters need one device and one dtype")
        # Each parameter starts on a 64-byte boundary (BLAS kernels, cuBLASLt's bias epilogue among
        # them, want aligned pointers); the padding stays zero in the parameter, gradient and Adam
        # moments, so it changes neither the gradient norm nor any update.
        align = max(1, _ALIGN_BYTES // first.element_size())
        offsets, total = [], 0
        for parameter in self._parameters:
            offsets.append(total)
            total += -(-parameter.numel() // align) * align
        self.param = nn.Parameter(torch.zeros(total, device=first.device, dtype=first.dtype))
        self.param.grad = torch.zeros_like(self.param)
        self.views: dict[nn.Parameter, ParameterViews] = {}
        with torch.no_grad():
            for parameter, offset in zip(self._parameters, offsets, strict=True):
                size = parameter.numel()
                value = self.param.detach()[offset : offset + size].view_as(parameter)
                grad = self.param.grad[offset : offset + size].view_as(parameter)
                value.copy_(parameter)
                parameter.data = value
                parameter.grad = grad
                self.views[parameter] = ParameterViews(value, grad)

    @property
    def grad(self) -> torch.Tensor:
        """The flat gradient (every parameter's .grad is a view of it)."""
        assert self.param.grad is not None
        return self.param.grad

    def release(self) -> None:
        """Give every parameter its own storage and drop the gradients (safetensors refuses shared ones)."""
        with torch.no_grad():
            for parameter in self._parameters:
                parameter.data = parameter.data.clone()
                parameter.grad = None


class FlatAdam:
    """torch.optim.Adam(fused=True) on the flat parameter, stepped with one direct call of its fused kernel.

    `optimizer` is a real torch.optim.Adam (schedulers drive its param_groups, its state holds the
    moments); step() does what its fused step does for one CPU tensor (step += 1, then
    torch._fused_adam_ with the group's hyperparameters) without Optimizer.step's per-call Python
    (hooks, grouping, profiling), which costs more than the kernel at these sizes.
    """

    def __init__(self, flat: FlatParameters, learning_rate: float, weight_decay: float) -> None:
        param = flat.param
        self.optimizer = torch.optim.Adam([param], lr=learning_rate, weight_decay=weight_decay, fused=True)
        self._group = self.optimizer.param_groups[0]
        state = self.optimizer.state[param]
        # The state Adam's _init_group creates for a fused parameter.
        state["step"] = torch.zeros((), dtype=torch.float32, device=param.device)
        state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        self._tensors = ([param.detach()], [flat.grad], [state["exp_avg"]], [state["exp_avg_sq"]], [],
                         [state["step"]])

    def step(self) -> None:
        """One Adam update of the flat parameter from the flat gradient."""
        group = self._group
        beta1, beta2 = group["betas"]
        steps = self._tensors[5]
        steps[0].add_(1)
        # What Optimizer.step's scheduler hook records; without it schedulers warn of a missing step.
        self.optimizer._opt_called = True  # type: ignore[attr-defined]
        torch._fused_adam_(
            *self._tensors, lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
            eps=group["eps"], amsgrad=False, maximize=False, grad_scale=None, found_inf=None,
        )


class GradientClipper:
    """clip_grad_norm_ on one flat gradient: grad *= min(max_norm / (||grad|| + 1e-6), 1), no host sync."""

    def __init__(self, grad: torch.Tensor, max_norm: float) -> None:
        self._grad = grad
        self._max_norm = torch.tensor(float(max_norm), device=grad.device, dtype=grad.dtype)
        self._scale = torch.zeros((), device=grad.device, dtype=grad.dtype)

    def __call__(self) -> None:
        """Scale the gradient in place."""
        scale = self._scale
        torch.linalg.vector_norm(self._grad, out=scale)
        torch.div(self._max_norm, scale.add_(1e-6), out=scale).clamp_(max=1.0)
        self._grad.mul_(scale)


class ShuffledData:
    """A per-epoch shuffled copy of the training tensors, so each batch is a contiguous slice (a view)."""

    def __init__(self, features: torch.Tensor, targets: torch.Tensor) -> None:
        self._features = features
        self._targets = targets
        # Row-major whatever the source's layout, so that every batch slice is contiguous.
        self.features = torch.empty(features.shape, dtype=features.dtype, device=features.device)
        self.targets = torch.empty(targets.shape, dtype=targets.dtype, device=targets.device)

    def shuffle(self, order: torch.Tensor) -> None:
        """Gather the rows in `order` into the copies (two index_select calls, no allocation)."""
        torch.index_select(self._features, 0, order, out=self.features)
        torch.index_select(self._targets, 0, order, out=self.targets)
