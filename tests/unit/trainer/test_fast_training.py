"""The fast training engines against the eager reference: same losses, weights, clipping and Adam."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from tests.unit.trainer._training import assert_same_state, nonlinear_data, train_with, training_settings
from trainer_service.events import JobCancelled
from trainer_service.models.fast_step import ExplicitStep, FlatAutogradStep
from trainer_service.models.flat_parameters import FlatAdam, FlatParameters, GradientClipper
from trainer_service.models.network_training import Engine, build_network, train_network
from trainer_service.models.neural_network import NeuralNetworkRegressor
from trainer_service.models.training_steps import EagerStep, make_step

cuda_only = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """The server's default; also keeps the reference and fast runs on the same reduction order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("classes", [0, 3], ids=["regression", "classification"])
def test_explicit_step_reproduces_the_eager_reference(classes: int) -> None:
    eager, eager_losses = train_with(Engine.EAGER, classes=classes)
    fast, fast_losses = train_with(Engine.FAST, classes=classes)
    np.testing.assert_allclose(fast_losses, eager_losses, rtol=1e-5)
    assert_same_state(eager, fast, rtol=1e-4, atol=1e-5)  # weights, BatchNorm statistics, batch counts


def test_odd_layer_widths_train_alike_with_every_parameter_aligned() -> None:
    # 7 features, widths 13 and 5: without padding most parameters would start off a 16-byte boundary.
    module = build_network(7, (13, 5), 1, 0.0)
    flat = FlatParameters(module)
    base = flat.param.data_ptr()
    assert all((parameter.data_ptr() - base) % 64 == 0 for parameter in module.parameters())
    assert flat.param.numel() > sum(parameter.numel() for parameter in module.parameters())
    flat.release()
    eager, eager_losses = train_with(Engine.EAGER, features=7, hidden=(13, 5))
    fast, fast_losses = train_with(Engine.FAST, features=7, hidden=(13, 5))  # clipped: padding adds no norm
    np.testing.assert_allclose(fast_losses, eager_losses, rtol=1e-5)
    assert_same_state(eager, fast, rtol=1e-4, atol=1e-5)


def test_flat_autograd_step_reproduces_the_eager_reference() -> None:
    # A Huber loss is not one ExplicitStep knows, so FAST falls back to autograd on the flat buffers.
    eager, eager_losses = train_with(Engine.EAGER, loss_fn=nn.HuberLoss())
    fast, fast_losses = train_with(Engine.FAST, loss_fn=nn.HuberLoss())
    np.testing.assert_allclose(fast_losses, eager_losses, rtol=1e-5)
    assert_same_state(eager, fast, rtol=1e-4, atol=1e-5)


def test_a_trailing_single_row_joins_the_last_batch_in_both_engines() -> None:
    eager, eager_losses = train_with(Engine.EAGER, rows=193)  # 6 batches of 32, then one row: 32 + 33
    fast, fast_losses = train_with(Engine.FAST, rows=193)
    np.testing.assert_allclose(fast_losses, eager_losses, rtol=1e-5)
    assert_same_state(eager, fast, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("schedule", ["cosine", "reduce_on_plateau"])
def test_schedules_drive_the_fast_engine_like_the_eager_one(schedule: str) -> None:
    eager, eager_losses = train_with(Engine.EAGER, lr_schedule=schedule, epochs=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        fast, fast_losses = train_with(Engine.FAST, lr_schedule=schedule, epochs=8)
    np.testing.assert_allclose(fast_losses, eager_losses, rtol=1e-4)
    assert_same_state(eager, fast, rtol=1e-3, atol=1e-4)


def test_make_step_picks_the_explicit_step_on_the_cpu() -> None:
    x, y = nonlinear_data()
    module = build_network(6, (16, 8), 1, 0.2)
    options = dict(learning_rate=0.01, weight_decay=0.0, clip_norm=1.0, batch_size=32)
    step = make_step(Engine.AUTO, module, nn.MSELoss(), (x, y), **options)
    assert isinstance(step, ExplicitStep)
    step.close()
    assert isinstance(make_step(Engine.EAGER, module, nn.MSELoss(), (x, y), **options), EagerStep)
    fallback = make_step(Engine.AUTO, module, nn.HuberLoss(), (x, y), **options)
    assert isinstance(fallback, FlatAutogradStep)
    fallback.close()
    with pytest.raises(ValueError):
        make_step(Engine.CUDA_GRAPH, module, nn.MSELoss(), (x, y), **options)


def test_dropout_masks_keep_one_minus_p_and_rescale() -> None:
    x, y = nonlinear_data(rows=4096)
    module = build_network(6, (64, 32), 1, 0.25)
    step = ExplicitStep(module, nn.MSELoss(), (x, y), 0.01, 0.0, 1.0)
    step.start_epoch(torch.randperm(4096))
    step.step(0, 4096)
    noise = step._workspace(4096).noise_all
    assert noise is not None
    assert noise.unique().tolist() == [0.0, pytest.approx(1 / 0.75)]
    assert float((noise > 0).float().mean()) == pytest.approx(0.75, abs=0.01)
    step.close()


def test_dropout_trains_as_well_as_the_eager_reference() -> None:
    _, eager_losses = train_with(Engine.EAGER, dropout=0.2, epochs=20, rows=1000)
    _, fast_losses = train_with(Engine.FAST, dropout=0.2, epochs=20, rows=1000)
    assert fast_losses[-1] < fast_losses[0] / 2
    assert fast_losses[-1] == pytest.approx(eager_losses[-1], rel=0.25)


def _copy_grads(source: nn.Module, flat_module: nn.Module) -> None:
    """Write each of source's gradients into the matching view of flat_module's flat gradient."""
    for origin, parameter in zip(source.parameters(), flat_module.parameters(), strict=True):
        assert origin.grad is not None and parameter.grad is not None
        parameter.grad.copy_(origin.grad)


@pytest.mark.parametrize("max_norm", [0.05, 1e6], ids=["clipping", "below-the-limit"])
def test_flat_clipping_equals_clip_grad_norm(max_norm: float) -> None:
    reference = build_network(6, (16, 8), 1, 0.0)
    flat_module = build_network(6, (16, 8), 1, 0.0)
    flat_module.load_state_dict(reference.state_dict())
    x, y = nonlinear_data()
    for module in (reference, flat_module):
        nn.MSELoss()(module(x), y).backward()
    flat = FlatParameters(flat_module)
    _copy_grads(reference, flat_module)
    nn.utils.clip_grad_norm_(reference.parameters(), max_norm)
    GradientClipper(flat.grad, max_norm)()
    for expected, actual in zip(reference.parameters(), flat_module.parameters(), strict=True):
        torch.testing.assert_close(actual.grad, expected.grad, rtol=1e-6, atol=1e-9)


def test_flat_adam_is_torch_adam_on_every_parameter() -> None:
    reference = build_network(6, (16, 8), 1, 0.0)
    flat_module = build_network(6, (16, 8), 1, 0.0)
    flat_module.load_state_dict(reference.state_dict())
    flat = FlatParameters(flat_module)
    adam = FlatAdam(flat, 0.01, 1e-2)
    optimizer = torch.optim.Adam(reference.parameters(), lr=0.01, weight_decay=1e-2)  # L2 on BatchNorm too
    generator = torch.Generator().manual_seed(3)
    for _ in range(5):
        for parameter in reference.parameters():
            parameter.grad = torch.randn(parameter.shape, generator=generator)
        _copy_grads(reference, flat_module)
        optimizer.step()
        adam.step()
    for expected, actual in zip(reference.parameters(), flat_module.parameters(), strict=True):
        torch.testing.assert_close(actual.detach(), expected.detach(), rtol=1e-5, atol=1e-6)
    assert float(adam.optimizer.state[flat.param]["step"]) == 5


def test_flat_parameters_are_views_until_released(tmp_path) -> None:
    module = build_network(6, (16, 8), 1, 0.0)
    before = [parameter.detach().clone() for parameter in module.parameters()]
    flat = FlatParameters(module)
    start = flat.param.data_ptr()
    end = start + flat.param.numel() * flat.param.element_size()
    x, y = nonlinear_data()
    nn.MSELoss()(module(x), y).backward()  # autograd accumulates into the views
    for parameter in module.parameters():
        assert start <= parameter.data_ptr() < end
        assert parameter.grad is not None
        grad_start = flat.grad.data_ptr()
        assert grad_start <= parameter.grad.data_ptr() < grad_start + flat.grad.numel() * 4
    assert float(flat.grad.abs().sum()) > 0
    flat.release()
    assert all(not start <= p.data_ptr() < end and p.grad is None for p in module.parameters())
    for expected, parameter in zip(before, module.parameters(), strict=True):
        assert torch.equal(parameter, expected)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(tmp_path / "w.safetensors"))


def _loaded(state: dict[str, torch.Tensor]) -> nn.Module:
    module = build_network(6, (16, 8), 1, 0.0)
    module.load_state_dict(state)
    return module


def test_cancel_takes_effect_within_one_batch(make_reporter: Callable[..., object]) -> None:
    x, y = nonlinear_data(rows=2000, features=4)
    reporter = make_reporter(cancel_after=20)
    model = NeuralNetworkRegressor(hidden_layers=(16, 8), batch_size=128, epochs=50, reporter=reporter)
    with pytest.raises(JobCancelled):
        model.fit(x.numpy(), y.numpy().ravel())
    assert reporter.checks == 21  # the 21st check (second epoch, 16 batches per epoch) raised
    assert len(reporter.epochs) == 1


def test_a_cancelled_fast_step_leaves_ordinary_parameters(make_reporter: Callable[..., object]) -> None:
    x, y = nonlinear_data()
    module = build_network(6, (16, 8), 1, 0.0)
    reporter = make_reporter(cancel_after=3)
    with pytest.raises(JobCancelled):
        train_network(module, nn.MSELoss(), (x, y), None, settings=training_settings(), reporter=reporter,
                      generator=torch.Generator().manual_seed(0), engine=Engine.FAST)
    pointers = [p.data_ptr() for p in module.parameters()]
    assert len(set(pointers)) == len(pointers) and all(p.grad is None for p in module.parameters())


def test_early_stopping_restores_the_best_weights_with_the_fast_engine() -> None:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(120, 8, generator=generator)
    y = (x[:, :1] + torch.randn(120, 1, generator=generator))  # noisy and small: overfits quickly
    torch.manual_seed(0)
    module = build_network(8, (256, 256), 1, 0.0)
    settings = training_settings(epochs=300, batch_size=16, weight_decay=0.0, gradient_clip_norm=1.0,
                         early_stopping=True, patience=5)
    history = train_network(module, nn.MSELoss(), (x[:80], y[:80]), (x[80:], y[80:]), settings=settings,
                            generator=torch.Generator().manual_seed(0), reporter=None, engine=Engine.FAST)
    curve = history.validation_losses
    assert len(curve) < 300 and history.best_epoch == int(np.argmin(curve)) + 1
    assert len(curve) == history.best_epoch + 5
    module.eval()
    with torch.no_grad():
        restored = float(nn.MSELoss()(module(x[80:]), y[80:]))
    assert restored == pytest.approx(min(curve), rel=1e-5)


def test_cpu_training_never_imports_the_cuda_graph_module() -> None:
    code = (
        "import sys, numpy as np\n"
        "from trainer_service.models.neural_network import NeuralNetworkRegressor\n"
        "x = np.random.default_rng(0).normal(size=(64, 3))\n"
        "NeuralNetworkRegressor(hidden_layers=(8,), epochs=2, batch_size=16).fit(x, x[:, 0])\n"
        "assert 'trainer_service.models.cuda_graph' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@cuda_only
def test_cuda_graph_step_matches_the_eager_reference() -> None:
    eager, eager_losses = train_with(Engine.EAGER, device="cuda", epochs=4)
    graph, graph_losses = train_with(Engine.CUDA_GRAPH, device="cuda", epochs=4)
    np.testing.assert_allclose(graph_losses, eager_losses, rtol=1e-3)
    assert_same_state(eager, graph, rtol=1e-3, atol=1e-4)


@cuda_only
@pytest.mark.parametrize(
    "options",
    [
        dict(epochs=6, lr_schedule="cosine"),
        dict(epochs=24, lr_schedule="reduce_on_plateau", validate=True),  # lowers the rate after epoch 21
        dict(epochs=60, learning_rate=0.05, early_stopping=True, patience=3, validate=True),
    ],
    ids=["cosine", "reduce_on_plateau", "early_stopping"],
)
def test_cuda_graph_step_follows_schedules_and_early_stopping(options: dict[str, object]) -> None:
    eager, eager_losses = train_with(Engine.EAGER, device="cuda", **options)  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "lr_scheduler.step() before optimizer.step()"
        graph, graph_losses = train_with(Engine.CUDA_GRAPH, device="cuda", **options)  # type: ignore[arg-type]
    np.testing.assert_allclose(graph_losses, eager_losses, rtol=1e-3)
    assert_same_state(eager, graph, rtol=1e-3, atol=1e-4)


@cuda_only
def test_auto_on_cuda_captures_a_graph_and_classifies() -> None:
    from trainer_service.models.cuda_graph import CudaGraphStep

    x, y = nonlinear_data(classes=3, device="cuda")
    module = build_network(6, (16, 8), 3, 0.2).cuda()
    step = make_step(Engine.AUTO, module, nn.CrossEntropyLoss(), (x, y), learning_rate=0.01,
                     weight_decay=0.0, clip_norm=1.0, batch_size=32)
    assert isinstance(step, CudaGraphStep)
    step.close()
    _, losses = train_with(Engine.AUTO, device="cuda", classes=3, dropout=0.2, epochs=15)
    assert losses[-1] < losses[0]


@cuda_only
def test_a_failed_capture_falls_back_to_eager_with_the_weights_untouched(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    x, y = nonlinear_data(device="cuda")
    module = build_network(6, (16, 8), 1, 0.0).cuda()
    before = {name: value.clone() for name, value in module.state_dict().items()}

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("capture refused")

    monkeypatch.setattr(torch.cuda, "graph", refuse)
    step = make_step(Engine.AUTO, module, nn.MSELoss(), (x, y), learning_rate=0.01, weight_decay=0.0,
                     clip_norm=1.0, batch_size=32)
    assert isinstance(step, EagerStep)
    assert "CUDA graph capture failed" in caplog.text
    assert_same_state(module, _loaded(before).cuda(), rtol=0, atol=0)
    pointers = [p.data_ptr() for p in module.parameters()]
    assert len(set(pointers)) == len(pointers)  # the flat buffer was released


@cuda_only
def test_too_few_rows_for_a_full_batch_train_eagerly_on_cuda() -> None:
    _, losses = train_with(Engine.AUTO, device="cuda", rows=20, epochs=3)
    assert len(losses) == 3 and all(np.isfinite(losses))
