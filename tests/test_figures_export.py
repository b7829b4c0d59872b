"""Static export of the core's figures: ``fig.write_image("maps.svg")`` and ``.png`` through Plotly's kaleido.

kaleido (the optional ``export`` extra) drives a Chrome or Chromium that is
already installed (Debian's ``chromium``); it never downloads one. Without
kaleido or a browser the test skips and says which is missing.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import container_edu as ce

kaleido = pytest.importorskip("kaleido", reason="kaleido is not installed (pip install 'container_edu[export]')")


def _browser() -> str | None:
    try:
        from choreographer.browsers.chromium import Chromium
    except ImportError:  # an older kaleido without choreographer: let it find its own browser
        return "unknown"
    return Chromium.find_browser(skip_local=False)


pytestmark = pytest.mark.skipif(_browser() is None,
                                reason="no Chrome or Chromium found for kaleido (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def figure():
    result = ce.inspect("fmnist_container_light", np.zeros((28, 28), dtype=np.uint8))
    return result.figure("blocks2.0", (3, 3), head=0)


@pytest.mark.slow
@pytest.mark.timeout(1200)  # kaleido starts a headless Chromium: seconds here, longer on a busy machine
def test_a_maps_figure_exports_to_svg(figure, tmp_path):
    path = tmp_path / "maps.svg"
    figure.write_image(path)
    text = path.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<svg") and text.rstrip().endswith("</svg>")
    assert "blocks2.0" in text  # the title is drawn as text
    assert text.count("<image") >= 3  # the picture under each of the three maps


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_maps_figure_exports_to_png_at_its_own_size(figure, tmp_path):
    path = tmp_path / "maps.png"
    figure.write_image(path, scale=1)
    with Image.open(path) as picture:
        assert picture.format == "PNG"
        assert picture.size == (figure.layout.width, figure.layout.height)
        pixels = np.asarray(picture.convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # maps were drawn, not a blank page
