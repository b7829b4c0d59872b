"""Learners' images for the classroom tools, and the prediction the app must show for each (no Streamlit here).

Every image is a small synthetic PNG drawn from a seed and labelled with its
owner; its expected top-5 is computed offline by the app's own code path
(``app.registry`` preprocessing, ``container_edu.record.inspection.run_inspection``, the
model the app shows first). Images are kept only if no two of them could be
taken for each other on the page (top-5 labels, percentages to display
rounding), so a session shown another session's result is always caught.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

PERCENT_TOLERANCE = 0.15  # the chart shows percentages to 0.1


@dataclass(frozen=True)
class Expected:
    session: int
    number: int
    png: bytes
    percents: dict[str, float]  # class -> probability in percent

    @property
    def name(self) -> str:
        return f"s{self.session}_{self.number}.png"

    @property
    def top(self) -> list[str]:
        return sorted(self.percents, key=self.percents.get, reverse=True)[:5]


def picture(session: int, number: int) -> bytes:
    """A 96x96 PNG of random shapes seeded by (session, number), with its owner written in."""
    from PIL import Image, ImageDraw

    rng = random.Random(session * 100_003 + number)
    image = Image.new("RGB", (96, 96), tuple(rng.randrange(0, 90) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randrange(2, 6)):
        x0, y0 = rng.randrange(0, 70), rng.randrange(0, 70)
        box = (x0, y0, x0 + rng.randrange(10, 40), y0 + rng.randrange(10, 40))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=tuple(rng.randrange(60, 256)
                                                                                   for _ in range(3)))
    draw.text((4, 80), f"S{session}#{number}", fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def shown_values(shown: dict | None) -> tuple[list[str], list[float]] | None:
    if not shown or not shown.get("labels"):
        return None
    try:
        return list(shown["labels"]), [float(str(t).rstrip("%")) for t in shown["texts"]]
    except ValueError:
        return None


def shows(shown: dict | None, expected: Expected) -> bool:
    """Whether the chart shows ``expected``'s top-5 (labels and percentages, up to display rounding)."""
    read = shown_values(shown)
    if read is None:
        return False
    labels, values = read
    if len(labels) != 5 or any(label not in expected.percents for label in labels):
        return False
    if any(abs(v - expected.percents[label]) > PERCENT_TOLERANCE for label, v in zip(labels, values)):
        return False
    cutoff = expected.percents[expected.top[-1]]  # ties at the fifth place may swap within rounding
    return all(expected.percents[label] >= cutoff - PERCENT_TOLERANCE for label in labels)


def distinguishable(a: Expected, b: Expected) -> bool:
    return a.top != b.top or any(abs(a.percents[k] - b.percents[k]) > 4 * PERCENT_TOLERANCE for k in a.top)


def expected_images(sessions: int, per_session: int) -> list[list[Expected]]:
    """Every session's images with the app's offline prediction; no two can be taken for each other on the page."""
    import torch

    from app import registry
    from container_edu.hub.cards import card_for_model
    from container_edu.data.images import load_image
    from container_edu.record.inspection import run_inspection

    torch.set_num_threads(1)
    model, _ = registry.default_model()
    card = card_for_model(model)
    names = card.class_names
    everyone: list[Expected] = []
    pools: list[list[Expected]] = []
    for session in range(sessions):
        pool, number = [], 0
        while len(pool) < per_session:
            png = picture(session, number)
            x, _ = registry.preprocess(card, load_image(png))
            probabilities = run_inspection(model, x).probabilities
            candidate = Expected(session, number, png, {names[i]: 100.0 * float(p) for i, p in enumerate(probabilities)})
            number += 1
            if all(distinguishable(candidate, other) for other in everyone):
                pool.append(candidate)
                everyone.append(candidate)
            if number > per_session * 50:
                raise SystemExit("could not make distinguishable images: the model's predictions are too flat")
        pools.append(pool)
    return pools
