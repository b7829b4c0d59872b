"""Training the zoo on Fashion-MNIST: ``python -m container_edu train --variant NAME``.

One recipe for every variant, so that the comparison of affinity types is
fair: AdamW, one warm-up epoch then cosine decay, label smoothing, random
2-pixel shifts and horizontal flips. 10% of the training split is held out
for choices; the test split is only measured, never used to choose.

Writes ``<out>/fmnist_<variant>.safetensors`` and its JSON model card
atomically (a temporary file, then ``os.replace``), and a resumable training
state ``<out>/fmnist_<variant>.state.pt`` after every epoch, so an
interrupted run leaves no half-written weights and ``--resume`` picks up
where it stopped.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from container_edu.data.fashion_mnist import load_fashion_mnist, to_model_input, train_val_split
from container_edu.files import sha256_file
from container_edu.hub.cards import FASHION_MNIST_DATASET, dataset_fields, write_card, zoo_card
from container_edu.models import ZOO_PREFIX, ZooConfig, ZooContainer, blend_parameters

__all__ = ["TrainSettings", "EpochLog", "TrainResult", "train", "evaluate", "balanced_subset", "write_bundle"]


@dataclass(frozen=True)
class TrainSettings:
    """The recipe. Defaults are the ones the bundled weights were trained with."""

    mixing: str = "container_light"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    seed: int = 0
    val_fraction: float = 0.1
    #: Use only this many training images (``None``: all); for quick runs and the live lesson.
    train_subset: int | None = None
    #: Draw ``train_subset`` class-balanced (equal images per class, from a generator of its own, so the subset
    #: depends only on size and seed, never on the variant) and validate on all held-out images (the data-size sweep).
    balanced_subset: bool = False
    augment: bool = True
    model: dict = field(default_factory=dict)

    def model_config(self) -> ZooConfig:
        return ZooConfig(mixing=self.mixing, **self.model)


@dataclass
class EpochLog:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_accuracy: float | None
    test_accuracy: float | None
    blend: dict[str, list[float]]
    seconds: float


@dataclass
class TrainResult:
    model: ZooContainer
    settings: TrainSettings
    history: list[EpochLog]
    wall_seconds: float
    train_images: int
    stopped_early: bool = False


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}; {os.cpu_count()} logical CPUs; torch {torch.__version__} with {torch.get_num_threads()} threads"


def _shift_and_flip(images: Tensor, generator: torch.Generator, pad: int = 2) -> Tensor:
    """Random shifts of up to ``pad`` pixels (zero-padded in pixel space) and horizontal flips."""
    batch, channels, height, width = images.shape
    background = images.amin()  # the normalised value of black pixels
    padded = F.pad(images, (pad, pad, pad, pad), value=float(background))
    offsets = torch.randint(0, 2 * pad + 1, (batch, 2), generator=generator)
    rows = (offsets[:, 0, None] + torch.arange(height))[:, :, None]  # (B, H, 1)
    cols = (offsets[:, 1, None] + torch.arange(width))[:, None, :]  # (B, 1, W)
    shifted = padded[torch.arange(batch)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    flip = torch.rand(batch, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], shifted.flip(-1), shifted)


@torch.no_grad()
def evaluate(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Top-1 accuracy in percent of ``model`` on normalised ``images`` ``(N, 1, 28, 28)``."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(images), batch_size):
        logits = model(images[start : start + batch_size])
        correct += int((logits.argmax(1) == labels[start : start + batch_size]).sum())
    model.train(was_training)
    return 100.0 * correct / len(images)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    # Blend scalars, norms and biases are not decayed: decay would pull sa_weight to 0 (a 50/50 blend)
    # and bias the very quantity the lessons read off.
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.dim() <= 1 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * progress))


def _blend_now(model: nn.Module) -> dict[str, list[float]]:
    return {name: [round(a, 5), round(b, 5)] for name, (a, b) in blend_parameters(model).items()}


def train(
    settings: TrainSettings,
    *,
    data_dir: str | Path | None = None,
    evaluate_test: bool = True,
    on_step: Callable[[int, int, float, dict[str, list[float]]], None] | None = None,
    on_epoch: Callable[[EpochLog], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: bool = False,
    state_path: Path | None = None,
    resume: bool = False,
    validate_every: int = 1,
) -> TrainResult:
    """Train one zoo model with the fixed recipe.

    Args:
        settings: the recipe and model config.
        data_dir: Fashion-MNIST folder (default: the Debian package's).
        evaluate_test: measure test accuracy after every epoch (only logged, never used for choices).
        on_step: called after each optimiser step as ``(step, total_steps, loss, blend)``.
        on_epoch: called with each epoch's log.
        should_stop: polled every step; when it returns True, training stops after that step
            and the model as it is returned (``stopped_early``).
        progress: show a tqdm bar with loss, accuracy and the blend weights.
        state_path, resume: where to write a resumable state every epoch, and whether to start from it.
        validate_every: measure validation (and test) accuracy, and write the resumable state, every this many
            epochs and after the last; other epochs log ``None`` (long runs on small subsets have hundreds of
            short epochs).
    """
    torch.manual_seed(settings.seed)
    generator = torch.Generator().manual_seed(settings.seed)
    train_images, train_labels = load_fashion_mnist("train", data_dir)
    train_idx, val_idx = train_val_split(len(train_labels), settings.val_fraction, seed=settings.seed)
    if settings.train_subset is not None and settings.balanced_subset:
        train_idx = balanced_subset(train_labels, train_idx, settings.train_subset, settings.seed)
    elif settings.train_subset is not None:
        train_idx = train_idx[torch.randperm(len(train_idx), generator=generator)[: settings.train_subset]]
        val_idx = val_idx[: max(1, settings.train_subset // 5)]
    x_train, y_train = to_model_input(train_images[train_idx]), train_labels[train_idx]
    x_val, y_val = to_model_input(train_images[val_idx]), train_labels[val_idx]
    if evaluate_test:
        test_images, test_labels = load_fashion_mnist("test", data_dir)
        x_test = to_model_input(test_images)

    model = ZooContainer(settings.model_config())
    optimizer = torch.optim.AdamW(_param_groups(model, settings.weight_decay), lr=settings.lr)
    steps_per_epoch = math.ceil(len(x_train) / settings.batch_size)
    total_steps = steps_per_epoch * settings.epochs
    warmup_steps = max(1, int(settings.warmup_epochs * steps_per_epoch))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(step, total_steps, warmup_steps)
    )
    history: list[EpochLog] = []
    start_epoch = 0
    elapsed_before = 0.0
    if resume and state_path is not None and state_path.exists():
        state = torch.load(state_path, weights_only=True)
        if state["settings"] != _settings_dict(settings):
            raise ValueError(f"{state_path} was written by a run with other settings; delete it or drop --resume")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history = [EpochLog(**entry) for entry in json.loads(state["history"])]
        start_epoch = len(history)
        elapsed_before = float(state["elapsed"])

    started = time.perf_counter()
    stopped = False
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, settings.epochs):
        epoch_started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=steps_per_epoch, desc=f"{settings.mixing} {epoch + 1}/{settings.epochs}", unit="batch",
                       file=sys.stderr, dynamic_ncols=True)
        loss_sum = correct = seen = 0
        for batch_start in range(0, len(order), settings.batch_size):
            idx = order[batch_start : batch_start + settings.batch_size]
            images, labels = x_train[idx], y_train[idx]
            if settings.augment:
                images = _shift_and_flip(images, generator)
            logits = model(images)
            loss = F.cross_entropy(logits, labels, label_smoothing=settings.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == labels).sum())
            seen += len(idx)
            blend = _blend_now(model)
            if bar is not None:
                postfix = {"loss": f"{loss_sum / seen:.3f}", "acc": f"{100 * correct / seen:.1f}"}
                postfix.update({name: f"{a:.2f}/{b:.2f}" for name, (a, b) in blend.items()})
                bar.set_postfix(postfix, refresh=False)
                bar.update()
            if on_step is not None:
                on_step(step, total_steps, float(loss.detach()), blend)
            if should_stop is not None and should_stop():
                stopped = True
                break
        if bar is not None:
            bar.close()
        measure = stopped or (epoch + 1) % validate_every == 0 or epoch + 1 == settings.epochs
        log = EpochLog(
            epoch=epoch + 1,
            train_loss=loss_sum / max(seen, 1),
            train_accuracy=100 * correct / max(seen, 1),
            val_accuracy=evaluate(model, x_val, y_val) if measure else None,
            test_accuracy=evaluate(model, x_test, test_labels) if evaluate_test and measure else None,
            blend=_blend_now(model),
            seconds=time.perf_counter() - epoch_started,
        )
        history.append(log)
        if on_epoch is not None:
            on_epoch(log)
        if progress and measure:
            test = f", test {log.test_accuracy:.2f}%" if log.test_accuracy is not None else ""
            print(f"epoch {log.epoch}: loss {log.train_loss:.4f}, train {log.train_accuracy:.2f}%, "
                  f"val {log.val_accuracy:.2f}%{test}, blend {log.blend}, {log.seconds:.0f} s", file=sys.stderr)
        if state_path is not None and not stopped and measure:  # with the logs, so a resume re-reads both
            _atomic_save(state_path, {
                "settings": _settings_dict(settings),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "history": json.dumps([asdict(entry) for entry in history]),
                "elapsed": elapsed_before + time.perf_counter() - started,
            })
        if stopped:
            break
    model.eval()
    return TrainResult(model, settings, history, elapsed_before + time.perf_counter() - started, len(x_train), stopped)


def balanced_subset(labels: Tensor, pool: Tensor, size: int, seed: int) -> Tensor:
    """``size`` indices from ``pool`` (sorted), ``size // 10`` of each class, the first ``size % 10`` classes one more.

    Drawn with a generator of its own seeded by ``seed``, so the same ``(pool, size, seed)`` gives the same subset
    whatever model is trained on it.
    """
    num_classes = int(labels.max()) + 1
    generator = torch.Generator().manual_seed(10_007 + int(seed))
    pool_labels = labels[pool]
    chosen = []
    for cls in range(num_classes):
        want = size // num_classes + (1 if cls < size % num_classes else 0)
        members = pool[pool_labels == cls]
        if want > len(members):
            raise ValueError(f"class {cls} has only {len(members)} images, {want} asked for")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:want]])
    return torch.cat(chosen).sort().values


def _settings_dict(settings: TrainSettings) -> str:
    return json.dumps(asdict(settings), sort_keys=True)


def _atomic_write(path: Path, write: Callable[[str], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; weights and cards are meant to be shared
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _atomic_save(path: Path, obj: dict) -> None:
    _atomic_write(path, lambda tmp: torch.save(obj, tmp))


def write_bundle(result: TrainResult, out_dir: Path, *, command: str, name: str | None = None) -> Path:
    """Write ``<name>.safetensors`` (default ``fmnist_<mixing>``) and its model card into ``out_dir``.

    Returns the card's path.
    """
    from safetensors.torch import save_file

    name = name or ZOO_PREFIX + result.settings.mixing
    weights_path = out_dir / f"{name}.safetensors"
    state = {key: value.detach().contiguous().cpu() for key, value in result.model.state_dict().items()}
    _atomic_write(weights_path, lambda tmp: save_file(state, tmp, metadata={"name": name}))
    final = result.history[-1] if result.history else None
    metrics = {} if final is None else {"test_accuracy": final.test_accuracy, "val_accuracy": final.val_accuracy}
    card = zoo_card(
        result.settings.model_config(),
        name=name,
        dataset=FASHION_MNIST_DATASET.format(**dataset_fields(result.train_images, result.settings.val_fraction)),
        source=command,
        weights_file=weights_path.name,
        sha256=sha256_file(weights_path),
        parameter_count=sum(p.numel() for p in result.model.parameters()),
        metrics={key: value for key, value in metrics.items() if value is not None},
        training={key: value for key, value in asdict(result.settings).items() if key != "model"},
        history=[asdict(entry) for entry in result.history],
        final_blend=final.blend if final else {},
        extra={"seed": result.settings.seed, "epochs": len(result.history),
               "wall_time_seconds": round(result.wall_seconds, 1), "machine": machine_description()},
    )
    card_path = out_dir / f"{name}.json"
    _atomic_write(card_path, lambda tmp: write_card(card, tmp))
    return card_path
