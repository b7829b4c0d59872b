"""Typed model cards: they round-trip through JSON, refuse malformed input, and drive every model's preprocessing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from container_edu.data import transforms as pre
from container_edu.hub.cards import (
    CardError,
    ModelCard,
    Preprocessing,
    card_for_model,
    default_card,
    imagenet_container_light_card,
    read_card,
    write_card,
    zoo_card,
)
from container_edu.data import CLASS_NAMES, FASHION_MNIST_MEAN, FASHION_MNIST_STD
from container_edu.models import ContainerLightConfig, ZooConfig, create_model
from container_edu.hub.bundled import WEIGHTS_DIR, list_pretrained, model_from_card

SAMPLES = Path(__file__).resolve().parents[1] / "container_edu" / "samples"


def sample_images() -> list[Image.Image]:
    return [Image.open(path).convert("RGB") for path in sorted(SAMPLES.glob("*.png")) + sorted(SAMPLES.glob("*.jpg"))]


def test_every_bundled_card_is_typed_and_survives_a_json_round_trip(tmp_path):
    cards = list_pretrained()
    assert cards, "the package ships its zoo cards"
    for name, card in cards.items():
        assert isinstance(card, ModelCard) and card.name == name
        assert card.architecture == "zoo" and card.test_accuracy is not None
        write_card(card, tmp_path / f"{name}.json")
        assert read_card(tmp_path / f"{name}.json") == card
        raw = json.loads((WEIGHTS_DIR / f"{name}.json").read_text())
        assert raw["preprocessing"]["mean"] == [FASHION_MNIST_MEAN] and raw["preprocessing"]["std"] == [FASHION_MNIST_STD]


def test_a_card_names_what_is_missing_or_unknown():
    data = zoo_card(ZooConfig(mixing="conv")).to_dict()
    del data["sha256"]
    data["colour"] = "blue"
    with pytest.raises(CardError, match="missing sha256; unknown colour"):
        ModelCard.from_dict(data)
    with pytest.raises(CardError, match="config has 10 classes but the card names 3"):
        replace(zoo_card(), class_names=("a", "b", "c"))
    with pytest.raises(CardError, match="architecture must be one of"):
        replace(zoo_card(), architecture="resnet")
    with pytest.raises(CardError, match="model card 'fmnist_container_light'"):
        ModelCard.from_dict({**zoo_card().to_dict(), "final_blend": [0.5, 0.5]})


@pytest.mark.parametrize(("fields", "message"), [
    ({"input_size": 0}, "input_size must be a positive integer"),
    ({"in_chans": 3, "mean": (0.5,) * 3, "std": (0.5,) * 3}, "makes 1 channel"),
    ({"mean": (0.5, 0.5)}, "one value per channel"),
    ({"std": (0.0,)}, "std must be positive"),
    ({"mode": "stretch"}, "mode must be one of"),
    ({"interpolation": "cubic"}, "interpolation must be one of"),
])
def test_preprocessing_refuses_what_cannot_be_applied(fields, message):
    base = {"input_size": 28, "in_chans": 1, "mode": "fit_pad_gray", "mean": (0.2860,), "std": (0.3530,)}
    with pytest.raises(CardError, match=message):
        Preprocessing(**{**base, **fields})
    with pytest.raises(CardError, match="resize .* must be at least the crop"):
        Preprocessing(224, 3, "shorter_side_center_crop", (0.5,) * 3, (0.5,) * 3, resize=200)


def test_the_imagenet_card_is_the_deit_evaluation_transform_and_the_1000_classes():
    card = imagenet_container_light_card(sha256="abc", weights_file="container_light.safetensors",
                                         reported_metrics={"acc1": 82.3})
    pre_ = card.preprocessing
    assert (pre_.resize, pre_.input_size, pre_.interpolation) == (256, 224, "bicubic")
    assert pre_.mean == pre.IMAGENET_MEAN and pre_.std == pre.IMAGENET_STD
    assert len(card.class_names) == 1000 and card.class_names[0] == "tench"
    assert card.parameter_count == sum(p.numel() for p in create_model("container_light").parameters())
    assert card.reported_metrics == {"acc1": 82.3} and card.metrics == {}
    assert ModelCard.from_dict(json.loads(json.dumps(card.to_dict()))) == card


def test_cards_of_models_without_one_follow_their_config():
    small = create_model("fmnist_conv", num_classes=4)
    card = card_for_model(small)
    assert card.class_names == ("class 0", "class 1", "class 2", "class 3")  # not Fashion-MNIST's names
    assert card.parameter_count == sum(p.numel() for p in small.parameters())
    assert model_from_card(card).config == small.config
    assert default_card("fmnist_mixer").variant == "mixer" and default_card("fmnist_mixer").class_names == CLASS_NAMES
    assert default_card("container_light") == imagenet_container_light_card(ContainerLightConfig())
    with pytest.raises(TypeError, match="no card for a Linear"):
        card_for_model(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="no default card"):
        default_card("resnet50")


def test_preprocessing_from_a_card_equals_each_datasets_own_transform_exactly():
    fashion, imagenet = default_card("fmnist_container_light"), default_card("container_light")
    for image in sample_images():
        x, seen = pre.preprocess(fashion, image)
        assert torch.equal(x[0], pre.fashion_mnist_transform(image))
        assert torch.equal(pre.for_card(fashion)(image), x[0])
        assert np.array_equal(np.asarray(seen), np.asarray(pre.fashion_mnist_display(x[0], scale=8).convert("RGB")))
        x, seen = pre.preprocess(imagenet, image)
        assert torch.equal(x[0], pre.imagenet_transform(image))
        assert np.array_equal(np.asarray(seen), np.asarray(pre.imagenet_display(image)))


def test_the_card_not_the_dataset_name_decides_the_preprocessing():
    image = sample_images()[0]
    card = default_card("fmnist_container_light")
    other = replace(card.preprocessing, input_size=32, mean=(0.5,), std=(0.25,))
    x, seen = pre.preprocess(other, image)
    assert x.shape == (1, 1, 32, 32) and seen.size == (224, 224)  # 32 * 7
    view = np.asarray(pre.model_view(other, image), dtype=np.float32) / 255.0
    torch.testing.assert_close(x[0, 0], (torch.from_numpy(view) - 0.5) / 0.25, rtol=0, atol=1e-6)
