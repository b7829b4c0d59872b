"""The three families equal timm, key for key and logit for logit, without timm installed.

``tests/fixtures/timm_reference.json`` was written by ``tools/timm_reference.py`` in a scratch environment with
timm: timm's state-dict keys and shapes, and timm's logits on weights and an input that the tool's torch-only
rules regenerate here. Loading those weights with ``strict=True`` into the project's models must work, and the
logits must match.

Tolerance: ``atol = 1e-5`` on logits of unit scale (their standard deviation is 0.4 to 1.0). The same float32
computation in another torch version or on another CPU may sum in another order; measured here (timm 1.0.31 on
torch 2.14.1 against this project on torch 2.13.0) the largest difference is about 6e-8, so 1e-5 leaves two orders
of magnitude for other machines, while an architectural slip moves the logits much further (the tanh
approximation of GELU instead of the exact one moves them by 1.7e-4 to 3.7e-4; a missing or misplaced layer by
far more). A wrong LayerNorm eps (1e-5 for 1e-6) moves them by only ~1e-5, so eps is checked directly instead.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from container_edu.models import FAMILY_MODELS, TIMM_NAMES, create_model

REPO = Path(__file__).resolve().parents[1]
FIXTURE = json.loads((REPO / "tests" / "fixtures" / "timm_reference.json").read_text(encoding="utf-8"))
LOGIT_ATOL = 1e-5


def _load_tool():
    spec = importlib.util.spec_from_file_location("timm_reference_tool", REPO / "tools" / "timm_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _load_tool()


def _timm_shapes(name: str) -> dict[str, tuple[int, ...]]:
    return {key: tuple(shape) for key, shape in FIXTURE["models"][name]["keys"].items()}


def test_the_fixture_covers_the_three_families_under_their_timm_names():
    assert tuple(FIXTURE["models"]) == FAMILY_MODELS
    assert TOOL.MODELS == TIMM_NAMES
    assert {m["timm_name"] for m in FIXTURE["models"].values()} == set(TIMM_NAMES.values())
    assert FIXTURE["timm_version"] and FIXTURE["torch_version"]


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_state_dict_keys_and_shapes_are_timms_in_timms_order(name):
    model = create_model(name)
    ours = [(key, tuple(value.shape)) for key, value in model.state_dict().items()]
    assert ours == list(_timm_shapes(name).items())
    assert sum(p.numel() for p in model.parameters()) == FIXTURE["models"][name]["parameters"]


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_logits_equal_timms_forward_on_the_regenerated_weights(name):
    model = create_model(name).eval()
    model.load_state_dict(TOOL.reference_state_dict(_timm_shapes(name)), strict=True)
    with torch.no_grad():
        logits = model(TOOL.reference_input())
    expected = FIXTURE["models"][name]["logits"]
    kept = len(expected["first_logits"][0])
    torch.testing.assert_close(logits[:, :kept].double(), torch.tensor(expected["first_logits"], dtype=torch.float64),
                               atol=LOGIT_ATOL, rtol=0)
    assert logits.argmax(dim=1).tolist() == expected["argmax"]
    for field, ours in (("mean", logits.mean(dim=1)), ("std", logits.std(dim=1)), ("max", logits.max(dim=1).values)):
        torch.testing.assert_close(ours.double(), torch.tensor(expected[field], dtype=torch.float64),
                                   atol=LOGIT_ATOL, rtol=0)
    # The two images must give different logits, or the comparison would not see the blocks at all.
    assert (logits[0] - logits[1]).abs().max() > 1000 * LOGIT_ATOL


def test_the_weight_rule_is_repeatable_and_differs_per_key():
    first = TOOL.reference_tensor("blocks.0.attn.qkv.weight", (6, 4))
    assert torch.equal(first, TOOL.reference_tensor("blocks.0.attn.qkv.weight", (6, 4)))
    assert not torch.equal(first, TOOL.reference_tensor("blocks.1.attn.qkv.weight", (6, 4)))
    norm = TOOL.reference_tensor("norm.weight", (384,))
    assert (norm - 1).abs().max() < 1 and norm.std() > 0.05  # near 1, not 1


@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_every_layer_norm_uses_timms_eps(name):
    norms = [m for m in create_model(name).modules() if isinstance(m, nn.LayerNorm)]
    assert norms and all(m.eps == 1e-6 for m in norms)


def _timm_photo_logits(name: str, photo: str, logits: torch.Tensor) -> None:
    expected = FIXTURE["models"][name]["photos"][photo]["logits"]
    kept = len(expected["first_logits"][0])
    torch.testing.assert_close(logits[:, :kept].double(), torch.tensor(expected["first_logits"], dtype=torch.float64),
                               atol=LOGIT_ATOL, rtol=0)
    assert logits.argmax(dim=1).tolist() == expected["argmax"]


def _preprocessed(card_or_pre, photo: str) -> torch.Tensor:
    """The sample photo as the app and the command line decode and transform it for this card."""
    from container_edu.data.images import load_image
    from container_edu.data.transforms import for_card

    return for_card(card_or_pre)(load_image(REPO / "container_edu" / "samples" / photo))


@pytest.mark.parametrize("photo", TOOL.PHOTOS)
@pytest.mark.parametrize("name", FAMILY_MODELS)
def test_the_cards_preprocessing_and_forward_equal_timms_on_a_photo(name, photo):
    """timm's own evaluation transform of the fetched tag (resize, crop, interpolation, mean, std) and forward, on a
    sample photo: the card's preprocessing gives the same pixels (both resample with Pillow and round to 8 bits,
    so they agree to float32 rounding) and the model the same logits."""
    from container_edu.hub.families import family_preprocessing

    expected = FIXTURE["models"][name]["photos"][photo]
    x = _preprocessed(family_preprocessing(name), photo)
    assert list(x.shape) == expected["shape"]
    pixels = torch.tensor([float(x[c, y, w]) for c, y, w in TOOL.PIXELS], dtype=torch.float64)
    torch.testing.assert_close(pixels, torch.tensor(expected["pixels"], dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(x.mean(dim=(1, 2)).double(), torch.tensor(expected["channel_mean"],
                                                                          dtype=torch.float64), atol=1e-5, rtol=0)
    model = create_model(name).eval()
    model.load_state_dict(TOOL.reference_state_dict(_timm_shapes(name)), strict=True)
    with torch.no_grad():
        _timm_photo_logits(name, photo, model(x.unsqueeze(0)))


def test_a_file_imported_as_the_hub_ships_it_predicts_what_timm_predicts(tmp_path):
    """The whole path of issue 24: a timm state dict in ``model.safetensors`` -> ``weights import`` -> the installed
    model and card -> the card's preprocessing of a photo -> the same logits as timm on its own transform."""
    from safetensors.torch import save_file

    from container_edu.hub.families import import_family, load_family

    name, photo = "deit_small", TOOL.PHOTOS[0]  # the smallest file (88 MB); the others share the path
    path = tmp_path / "model.safetensors"
    save_file(TOOL.reference_state_dict(_timm_shapes(name)), str(path))
    import_family(path, name, tmp_path / "weights")
    model, card = load_family(name, tmp_path / "weights")
    with torch.no_grad():
        _timm_photo_logits(name, photo, model(_preprocessed(card, photo).unsqueeze(0)))
