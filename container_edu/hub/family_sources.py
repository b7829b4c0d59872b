"""Where the three families' ImageNet weights come from, pinned, and what each value's source is.

The paper unifies three families; these are their best-known ImageNet checkpoints as timm publishes them on the
Hugging Face hub (a timm state dict in ``model.safetensors``, the key names :mod:`container_edu.models` keeps):

===============  =========================================  ============================================
name             hub repository                             pinned revision (a commit of that repository)
===============  =========================================  ============================================
deit_small       ``timm/deit_small_patch16_224.fb_in1k``     ``38e0e3a79073772ea54733b87885d3d7f6348e8a``
convnext_tiny    ``timm/convnext_tiny.fb_in1k``              ``main`` (no full commit id confirmed)
mixer_b16        ``timm/mixer_b16_224.goog_in21k_ft_in1k``   ``c3c4ad9e7689f44fd40036bf977e870e05272007``
===============  =========================================  ============================================

What was confirmed, and from where (December 2026, from the hub's own pages as stored by the search index; no
machine here reaches the hub):

* **Revisions.** The hub's commit pages for ``timm/deit_small_patch16_224.fb_in1k`` name the commit "Add model"
  ``38e0e3a79073772ea54733b87885d3d7f6348e8a`` (28 Mar 2023), whose file tree lists ``model.safetensors`` (88.2 MB,
  LFS); later commits ("Fix library_name.", "transformers tag") change only ``README.md``. For
  ``timm/mixer_b16_224.goog_in21k_ft_in1k`` the commit ``c3c4ad9e7689f44fd40036bf977e870e05272007`` ("Fix
  library_name.") follows "Add model" (``aab059f``, 27 Mar 2023), and the tree of ``main`` lists
  ``model.safetensors`` (240 MB, LFS) from "Add model". For ``timm/convnext_tiny.fb_in1k`` only short commit ids
  were found (``model.safetensors``, 114 MB, last changed by "Update model config and README" ``df72c4a``,
  31 Mar 2023; ``main`` was ``b43a630`` "transformers tag"), so its pin is the branch ``main``: a later change on
  the hub would be fetched, and the sha256 check below still stops a file that is not the one the hub says.
* **sha256.** None of the three files' sha256 (their Git LFS object id) was found in the stored hub pages, so none
  is written here (:attr:`HubSource.sha256` is ``None``). What is checked instead: the file must hash to the
  sha256 the hub itself announces for it (the ``X-Linked-Etag`` of the download, which is the LFS object id, and
  the name huggingface_hub stores the blob under), its size must be the one announced (``X-Linked-Size``), and its
  safetensors header must list exactly the tensors of :func:`container_edu.models.create_model` at float32, which
  fixes the size to within the header's length (deit_small 22,050,664 parameters = 88.2 MB, convnext_tiny
  28,589,128 = 114.4 MB, mixer_b16 59,880,472 = 239.5 MB: the hub's listed sizes). The installed card records
  the sha256 found, so a later file can be compared with it.
* **Preprocessing** is timm's pretrained config of each tag (``timm/models/deit.py``, ``convnext.py``,
  ``mlp_mixer.py``, timm 1.0.15 and the huggingface/pytorch-image-models tree at ``aa4b5850``): input 224,
  bicubic, centre crop (the same as timm 1.0.31's ``pretrained_cfg`` of each tag, recorded by
  ``tools/timm_reference.py`` in ``tests/fixtures/timm_reference.json``; a test compares); ``crop_pct`` 0.9 for
  DeiT (its ``_cfg``), 0.875 for ConvNeXt and Mixer, so the short side is resized to ``floor(224 / crop_pct)``:
  248, 256, 256 (timm's ``transforms_factory``). Mean and std: ImageNet's
  (0.485, 0.456, 0.406) / (0.229, 0.224, 0.225) for DeiT and ConvNeXt; (0.5, 0.5, 0.5) / (0.5, 0.5, 0.5) for the
  Mixer (``mlp_mixer._cfg``).
* **Reported accuracy** (top-1 / top-5 on ImageNet-1k validation at 224) is timm's own evaluation of exactly these
  tags, ``results/results-imagenet.csv`` in pytorch-image-models (tree ``aa4b5850``): deit_small 79.856 / 95.056,
  convnext_tiny 82.066 / 95.854, mixer_b16 76.616 / 92.250. The papers report DeiT-S 79.8 (Touvron et al. 2021)
  and ConvNeXt-T 82.1 (Liu et al. 2022); the MLP-Mixer paper's figure for this checkpoint was not confirmed here
  and is not written. None of these is measured in this project.
* **timm's default tag** for ``convnext_tiny`` is ``in12k_ft_in1k`` (the first of its ``default_cfgs``); this
  project takes ``fb_in1k``, the ConvNeXt authors' own ImageNet-1k training, like DeiT's ``fb_in1k``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Final

__all__ = ["FAMILY_NAMES", "FAMILY_LABELS", "HubSource", "FAMILY_SOURCES", "family_source", "is_commit"]

#: The three families, in the order the contract names them (``container_edu.models.FAMILY_MODELS``).
FAMILY_NAMES: Final[tuple[str, ...]] = ("deit_small", "convnext_tiny", "mixer_b16")
#: How the app and the command line name each family.
FAMILY_LABELS: Final[dict[str, str]] = {
    "deit_small": "DeiT-Small/16 (attention)",
    "convnext_tiny": "ConvNeXt-Tiny (depthwise conv)",
    "mixer_b16": "MLP-Mixer-B/16 (token-mixing MLP)",
}

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_INCEPTION_MEAN = (0.5, 0.5, 0.5)
_INCEPTION_STD = (0.5, 0.5, 0.5)
_TIMM_TREE = "huggingface/pytorch-image-models at aa4b5850c1543fa488abf260f18390eda46cf85d"
_COMMIT = re.compile(r"[0-9a-f]{40}")


def is_commit(revision: str) -> bool:
    """Whether ``revision`` is a full commit id (immutable), not a branch or tag."""
    return bool(_COMMIT.fullmatch(revision))


@dataclass(frozen=True)
class HubSource:
    """One family's published weights: where they are, how their input is made, what their publishers report.

    ``sha256`` is ``None`` where no documentation confirmed it: the hub's own announced sha256 is checked then.
    ``sources`` says, per value, where it was read (see the module docstring).
    """

    name: str
    timm_name: str
    repo_id: str
    revision: str
    hub_size: str  # the size the hub's file list shows, in its words: a cross-check, not a pin
    crop_pct: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    reported_metrics: dict[str, float]
    dataset: str
    paper: str
    sources: dict[str, str]
    filename: str = "model.safetensors"
    sha256: str | None = None
    input_size: int = 224
    interpolation: str = "bicubic"
    notes: str = ""
    extra_reported: dict[str, float] = field(default_factory=dict)

    @property
    def resize(self) -> int:
        """The short side before the centre crop: timm's ``floor(input_size / crop_pct)``."""
        return math.floor(self.input_size / self.crop_pct)

    @property
    def label(self) -> str:
        return FAMILY_LABELS[self.name]

    @property
    def url(self) -> str:
        """The file's page on the public hub (for people; downloads go through huggingface_hub)."""
        return f"https://huggingface.co/{self.repo_id}/blob/{self.revision}/{self.filename}"

    @property
    def pinned_commit(self) -> bool:
        return is_commit(self.revision)


FAMILY_SOURCES: Final[dict[str, HubSource]] = {
    "deit_small": HubSource(
        name="deit_small",
        timm_name="deit_small_patch16_224.fb_in1k",
        repo_id="timm/deit_small_patch16_224.fb_in1k",
        revision="38e0e3a79073772ea54733b87885d3d7f6348e8a",
        hub_size="88.2 MB",
        crop_pct=0.9,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        reported_metrics={"acc1": 79.856, "acc5": 95.056, "paper_acc1": 79.8},
        dataset="ImageNet-1k (ILSVRC 2012), 1000 classes",
        paper="Touvron et al., Training data-efficient image transformers & distillation through attention "
              "(ICML 2021), arXiv:2012.12877",
        sources={
            "revision": "hub commit page of timm/deit_small_patch16_224.fb_in1k: 'Add model' 38e0e3a (28 Mar 2023)",
            "preprocessing": f"timm deit.py _cfg (crop_pct 0.9, bicubic, ImageNet mean/std), {_TIMM_TREE}",
            "reported_metrics": f"timm results/results-imagenet.csv, {_TIMM_TREE}; paper_acc1: the DeiT paper",
        },
    ),
    "convnext_tiny": HubSource(
        name="convnext_tiny",
        timm_name="convnext_tiny.fb_in1k",
        repo_id="timm/convnext_tiny.fb_in1k",
        revision="main",
        hub_size="114 MB",
        crop_pct=0.875,
        mean=_IMAGENET_MEAN,
        std=_IMAGENET_STD,
        reported_metrics={"acc1": 82.066, "acc5": 95.854, "paper_acc1": 82.1},
        dataset="ImageNet-1k (ILSVRC 2012), 1000 classes",
        paper="Liu et al., A ConvNet for the 2020s (CVPR 2022), arXiv:2201.03545",
        sources={
            "revision": "branch main: only short commit ids (df72c4a, b43a630) were found on the hub's pages",
            "preprocessing": f"timm convnext.py _cfg (crop_pct 0.875, bicubic, ImageNet mean/std), {_TIMM_TREE}",
            "reported_metrics": f"timm results/results-imagenet.csv, {_TIMM_TREE}; paper_acc1: the ConvNeXt paper",
        },
        notes="timm's default tag for convnext_tiny is in12k_ft_in1k; fb_in1k is the authors' ImageNet-1k training.",
    ),
    "mixer_b16": HubSource(
        name="mixer_b16",
        timm_name="mixer_b16_224.goog_in21k_ft_in1k",
        repo_id="timm/mixer_b16_224.goog_in21k_ft_in1k",
        revision="c3c4ad9e7689f44fd40036bf977e870e05272007",
        hub_size="240 MB",
        crop_pct=0.875,
        mean=_INCEPTION_MEAN,
        std=_INCEPTION_STD,
        reported_metrics={"acc1": 76.616, "acc5": 92.250},
        dataset="ImageNet-21k pre-training, fine-tuned on ImageNet-1k (ILSVRC 2012), 1000 classes",
        paper="Tolstikhin et al., MLP-Mixer: An all-MLP Architecture for Vision (NeurIPS 2021), arXiv:2105.01601",
        sources={
            "revision": "hub commit page of timm/mixer_b16_224.goog_in21k_ft_in1k: c3c4ad9 'Fix library_name.' "
                        "after 'Add model' aab059f (27 Mar 2023)",
            "preprocessing": f"timm mlp_mixer.py _cfg (crop_pct 0.875, bicubic, mean/std 0.5), {_TIMM_TREE}",
            "reported_metrics": f"timm results/results-imagenet.csv, {_TIMM_TREE}",
        },
    ),
}


def family_source(name: str) -> HubSource:
    """The pinned source of family ``name`` (one of :data:`FAMILY_NAMES`)."""
    try:
        return FAMILY_SOURCES[name]
    except KeyError:
        raise ValueError(f"no family named {name!r}; choose one of {', '.join(FAMILY_NAMES)}") from None
