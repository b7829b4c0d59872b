"""What the Container paper and its authors report: the one place these figures are written down.

Never measured here. Every page that shows one of them labels it "reported by the authors" and, where it can, sets
it beside what this project measured. The numbers are the paper's (Gao, Lu, Li, Mottaghi, Kembhavi, NeurIPS 2021,
arXiv:2106.01401, abstract and tables) and, for Container-Light's released weights, the authors' model card
(:data:`container_edu.hub.weights_store.REPORTED_METRICS`, which the weights store also checks a download against).
Texts are English templates (``N_``) with named fields filled in after translation: :meth:`ReportedFigure.text`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from container_edu.hub.weights_store import REPORTED_METRICS
from container_edu.text import N_

__all__ = ["ReportedFigure", "REPORTED", "reported"]


@dataclass(frozen=True)
class ReportedFigure:
    """One reported result: which model, on what task, and its value(s) as a template with named fields."""

    key: str
    model: str
    task: str
    template: str
    values: dict[str, float] = field(default_factory=dict, hash=False)

    def text(self, translate: Callable[[str], str] = lambda template: template) -> str:
        """The result in words, ``translate`` applied to the template before the numbers are filled in."""
        return translate(self.template).format(**self.values)


REPORTED: tuple[ReportedFigure, ...] = (
    ReportedFigure(
        "imagenet_top1", N_("Container (paper)"), N_("ImageNet-1k top-1"),
        N_("{top1} % with {parameters} M parameters: +{gain} points over DeiT-S"),
        {"top1": 82.7, "parameters": 22, "gain": 2.8}),
    ReportedFigure(
        "imagenet_200_epochs", N_("Container (paper)"), N_("ImageNet-1k top-1 after a short schedule"),
        N_("{top1} % in {epochs} epochs (faster convergence)"), {"top1": 79.9, "epochs": 200}),
    ReportedFigure(
        "light_imagenet", N_("Container-Light (authors' released weights)"), N_("ImageNet-1k top-1 / top-5"),
        N_("{top1} % / {top5} %"), {"top1": REPORTED_METRICS["acc1"], "top5": REPORTED_METRICS["acc5"]}),
    ReportedFigure(
        "light_detection", N_("Container-Light as a detection backbone (paper)"),
        N_("COCO, against a ResNet-50 backbone"),
        N_("box AP {detr} / {retinanet} / {mask_rcnn} with DETR / RetinaNet / Mask R-CNN (+{detr_gain} / "
           "+{retinanet_gain} / +{mask_rcnn_gain}); mask AP {mask} (+{mask_gain})"),
        {"detr": 38.9, "retinanet": 43.8, "mask_rcnn": 45.1, "mask": 41.3, "detr_gain": 6.6, "retinanet_gain": 7.3,
         "mask_rcnn_gain": 6.9, "mask_gain": 6.6}),
)


def reported(key: str) -> ReportedFigure:
    """The reported figure called ``key``; ``KeyError`` naming the known ones otherwise."""
    for figure in REPORTED:
        if figure.key == key:
            return figure
    raise KeyError(f"no reported figure {key!r}; known: {', '.join(figure.key for figure in REPORTED)}")
