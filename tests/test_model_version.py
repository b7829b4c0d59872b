"""A model's weights version (the key of per-user inspection caches) follows its weights, not its id()."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from container_edu.models import create_model, weights_version


def small_model() -> nn.Module:
    torch.manual_seed(0)
    return create_model("fmnist_container_light")


def test_the_version_stays_while_nothing_changes_the_weights():
    model = small_model().eval()
    before = weights_version(model)
    with torch.no_grad():
        model(torch.randn(2, 1, 28, 28))  # an eval forward reads the weights only
    model.state_dict()
    assert weights_version(model) == before


@pytest.mark.parametrize("change", ["in-place edit", "optimizer step", "load_state_dict", "training forward",
                                    "parameter replaced"])
def test_every_way_of_changing_the_weights_changes_the_version(change):
    model = small_model()
    if change == "load_state_dict":  # even with the same values: the loaded tensors are other tensors' now
        state = {key: value.clone() for key, value in small_model().state_dict().items()}
    before = weights_version(model)
    if change == "in-place edit":
        with torch.no_grad():
            next(model.parameters()).mul_(2)
    elif change == "optimizer step":
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        model.train()(torch.randn(4, 1, 28, 28)).sum().backward()
        before = weights_version(model)  # the forward moved BatchNorm's statistics: count only the step
        optimizer.step()
    elif change == "load_state_dict":
        model.load_state_dict(state)
    elif change == "training forward":
        with torch.no_grad():
            model.train()(torch.randn(4, 1, 28, 28))  # BatchNorm's running statistics move
    else:
        first = next(name for name, _ in model.named_parameters())
        owner, _, attribute = first.rpartition(".")
        module = model.get_submodule(owner)
        setattr(module, attribute, nn.Parameter(getattr(module, attribute).detach().clone()))
    assert weights_version(model) != before


def test_a_model_made_at_a_recycled_address_does_not_get_the_old_version():
    """Every new model gets a new version, whether or not Python gives it the address of one that is gone (it
    usually does at once: a freed module's memory is reused by the next one of the same size)."""
    versions, addresses = set(), set()
    for _ in range(50):
        model = nn.Linear(3, 3)
        addresses.add(id(model))
        versions.add(weights_version(model))
        del model  # freed here (no reference cycle), so the next model may reuse its address
    assert len(versions) == 50  # 50 models, 50 versions
    if len(addresses) == 50:
        pytest.skip("Python reused no address in 50 models, so the recycled case did not occur in this run")


def test_a_session_inspection_is_computed_again_once_the_weights_change():
    from app import caching
    from app.registry import ModelRef

    model = small_model().eval()
    ref = ModelRef(key="session:mine", label="mine", source="session", name="mine", dataset="fashion_mnist",
                   trained=True)
    x = torch.randn(1, 1, 28, 28)
    state: dict = {"_session_inspections": OrderedDict()}
    first = caching.get_inspection(ref, model, "digest", x, None, state)
    assert caching.get_inspection(ref, model, "digest", x, None, state) is first  # cached while nothing changes
    with torch.no_grad():
        model.head.weight.mul_(-1)  # as a training step would, in place
    second = caching.get_inspection(ref, model, "digest", x, None, state)
    assert second is not first
    assert not torch.allclose(torch.as_tensor(second.probabilities), torch.as_tensor(first.probabilities))
