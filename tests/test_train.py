"""Training the zoo: loss goes down, runs are deterministic, interrupted runs resume exactly, bundles load."""

from __future__ import annotations

import gzip
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from container_edu.__main__ import main
from container_edu.hub.cards import read_card
from container_edu.data import CLASS_NAMES, FASHION_MNIST_MEAN, FASHION_MNIST_STD
from container_edu.hub.bundled import PretrainedError, list_pretrained, load_pretrained
from container_edu.training.train import TrainSettings, train, write_bundle

TINY_MODEL = {"embed_dims": (8, 16), "num_heads": 2}


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def _synthetic_split(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Ten learnable classes: a bright bar whose row encodes the label, plus noise."""
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 60, (count, 28, 28))
    for index, label in enumerate(labels):
        row = 2 + 2 * label
        images[index, row : row + 2, 4:24] = 255
    return images, labels


@pytest.fixture(scope="module")
def synthetic_fashion_mnist(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fmnist")
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 600), ("t10k", 200)):
        images, labels = _synthetic_split(count, rng)
        _write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def _settings(**overrides) -> TrainSettings:
    base = TrainSettings(mixing="container_light", epochs=2, batch_size=64, lr=1e-2, warmup_epochs=0.5,
                         model=TINY_MODEL, augment=True)
    return replace(base, **overrides)


def test_training_lowers_the_loss_and_learns_the_synthetic_classes(synthetic_fashion_mnist):
    result = train(_settings(epochs=4), data_dir=synthetic_fashion_mnist)
    losses = [log.train_loss for log in result.history]
    assert losses[-1] < losses[0] - 0.3, losses
    assert result.history[-1].test_accuracy > 40.0  # chance is 10%
    assert set(result.history[-1].blend) == {"blocks2.0", "blocks2.1"}


def test_training_is_deterministic_given_the_seed(synthetic_fashion_mnist):
    first = train(_settings(epochs=1), data_dir=synthetic_fashion_mnist, evaluate_test=False)
    second = train(_settings(epochs=1), data_dir=synthetic_fashion_mnist, evaluate_test=False)
    for (name, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), name


class _Interrupt(Exception):
    """Stands for a kill in the middle of training."""


def test_interrupted_training_resumes_to_the_same_weights(synthetic_fashion_mnist, tmp_path):
    straight = train(_settings(), data_dir=synthetic_fashion_mnist, evaluate_test=False)

    state = tmp_path / "run.state.pt"
    steps_per_epoch = -(-540 // 64)  # 600 images, 10% held out, batches of 64

    def killed_early_in_epoch_two(step, total, loss, blend):
        if step == steps_per_epoch + 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        train(_settings(), data_dir=synthetic_fashion_mnist, evaluate_test=False, state_path=state,
              on_step=killed_early_in_epoch_two)
    assert state.exists(), "the state of epoch 1 is on disk"
    assert not list(tmp_path.glob("*.tmp")), "no temporary file is left behind"

    resumed = train(_settings(), data_dir=synthetic_fashion_mnist, evaluate_test=False, state_path=state, resume=True)
    assert [log.epoch for log in resumed.history] == [1, 2]
    for (name, a), b in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_resume_refuses_a_state_written_with_other_settings(synthetic_fashion_mnist, tmp_path):
    state = tmp_path / "run.state.pt"
    train(_settings(epochs=1), data_dir=synthetic_fashion_mnist, evaluate_test=False, state_path=state)
    with pytest.raises(ValueError, match="other settings"):
        train(_settings(epochs=1, lr=1e-3), data_dir=synthetic_fashion_mnist, evaluate_test=False,
              state_path=state, resume=True)


def test_should_stop_ends_training_early_and_returns_the_model(synthetic_fashion_mnist):
    steps = []
    result = train(_settings(), data_dir=synthetic_fashion_mnist, evaluate_test=False,
                   on_step=lambda step, total, loss, blend: steps.append(step), should_stop=lambda: len(steps) >= 3)
    assert result.stopped_early
    assert steps == [1, 2, 3]
    assert not result.model.training


def test_bundle_is_written_atomically_and_loads_with_its_checksum(synthetic_fashion_mnist, tmp_path):
    result = train(_settings(epochs=1), data_dir=synthetic_fashion_mnist)
    card_path = write_bundle(result, tmp_path, command="pytest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fmnist_container_light.json",
                                                          "fmnist_container_light.safetensors"]
    card = read_card(card_path)
    assert card.test_accuracy == result.history[-1].test_accuracy
    assert card.parameter_count == sum(p.numel() for p in result.model.parameters())
    assert card.preprocessing.mean == (0.2860,) and card.preprocessing.std == (0.3530,)
    assert card.class_names == CLASS_NAMES and card.extra["epochs"] == 1
    model = load_pretrained("fmnist_container_light", device="cpu", weights_dir=tmp_path)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(model(x), result.model(x))

    weights = tmp_path / "fmnist_container_light.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\x00")
    with pytest.raises(PretrainedError, match="do not match"):
        load_pretrained("fmnist_container_light", device="cpu", weights_dir=tmp_path)
    with pytest.raises(PretrainedError, match="no bundled model"):
        load_pretrained("fmnist_nonexistent", weights_dir=tmp_path)


def test_train_command_reports_a_missing_dataset_without_a_traceback(tmp_path, capsys):
    code = main(["train", "--variant", "conv", "--epochs", "1", "--data-dir", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert "Fashion-MNIST not found" in err and "--data-dir" in err and "shipped with the package" in err
    assert "apt-get" not in err and "sudo" not in err  # a learner's machine need not have a package manager
    assert not (tmp_path / "out" / "fmnist_conv.safetensors").exists()


def test_train_command_writes_a_bundle(synthetic_fashion_mnist, tmp_path, capsys):
    code = main(["train", "--variant", "conv", "--epochs", "1", "--data-dir", str(synthetic_fashion_mnist),
                 "--out", str(tmp_path), "--threads", "1"])
    assert code == 0
    assert "test accuracy" in capsys.readouterr().out
    card = read_card(tmp_path / "fmnist_conv.json")
    assert card.source.startswith("python -m container_edu train --variant conv")
    assert card.history[0]["blend"] == {}


BUNDLED = list_pretrained()


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_model_loads_and_matches_its_checksum(name):
    model = load_pretrained(name, device="cpu")
    assert not model.training
    card = BUNDLED[name]
    assert sum(p.numel() for p in model.parameters()) == card.parameter_count
    # What using the weights elsewhere needs is on the card: the input convention and the labels.
    assert card.preprocessing.mean == (FASHION_MNIST_MEAN,) and card.preprocessing.std == (FASHION_MNIST_STD,)
    assert (card.preprocessing.input_size, card.preprocessing.in_chans) == (28, 1)
    assert card.class_names == CLASS_NAMES


def test_all_five_variants_are_bundled():
    five = {f"fmnist_{m}" for m in ("attention", "conv", "mixer", "container", "container_light")}
    assert five <= set(BUNDLED)
    # Besides the five, only the data-size sweep's seed-0 models of its smaller sizes (fmnist_<variant>_n<size>).
    for name in set(BUNDLED) - five:
        card = BUNDLED[name]
        assert name == f"fmnist_{card.variant}_n{card.training['train_subset']}", name
        assert card.training["balanced_subset"] and card.extra["seed"] == 0


@pytest.fixture(scope="module")
def fashion_mnist_test_set():
    from container_edu.data import DatasetError, load_fashion_mnist, to_model_input

    try:
        images, labels = load_fashion_mnist("test")
    except DatasetError as error:
        pytest.skip(f"Fashion-MNIST is not installed: {error}")
    return to_model_input(images), labels


@pytest.mark.dataset
@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_model_reaches_its_cards_accuracy_on_the_full_test_set(name, fashion_mnist_test_set):
    from container_edu.training.train import evaluate

    images, labels = fashion_mnist_test_set
    assert len(labels) == 10_000
    measured = evaluate(load_pretrained(name, device="cpu"), images, labels)
    assert abs(measured - BUNDLED[name].test_accuracy) <= 0.2, (measured, BUNDLED[name].test_accuracy)
