"""The Streamlit side of container_edu: everything the pages share.

Layers: ``pages/*.py`` (thin: widgets, one or two calls, drawing) -> ``app``
-> ``container_edu`` (the core, no Streamlit). Module map:

| module | holds | Streamlit? |
| --- | --- | --- |
| ``navigation`` | the page list (``st.Page`` per file in ``pages/``), page config, deep links on a fresh server | yes |
| ``page`` | ``run_page``: shared sidebar + title + friendly errors around a page body | yes |
| ``sidebar`` | device readout, weights status, the model picker and checkpoint loader | yes |
| ``widgets`` | image picker (samples / upload), block / head / query selectors, click-to-query | yes |
| ``url_state`` | a page's choices in its address (``st.query_params``): restore from a link, write on change | yes |
| ``views`` | page pieces used by several pages (model + image preparation, maps figure) | yes |
| ``caching`` | ``st.cache_resource`` models (bounded), ``st.cache_data`` per-image inspections and explorer runs | yes |
| ``errors`` | exceptions -> ``st.error`` messages, tracebacks to the server log | yes |
| ``explorer`` | the aggregation kinds' sentences, translated (the computation: ``container_edu.analysis.explore``) | no |
| ``registry`` | model choices (``ModelRef``), random stand-ins, preprocessing, checkpoint loading | no |
| ``samples`` | the sample gallery in ``container_edu/samples`` (and how it was made) | no |
| ``zoo`` | model cards and histories as table rows | no |

The figures and the inspection of one image are the core's (``container_edu.figures``,
``container_edu.record.inspection``; colours and PNG overlays in ``container_edu.figures.colors``), so a notebook draws
exactly what the pages draw.

``app.lessons`` (the guided lessons) builds on the same layer: its models come from ``caching``, its
colours from ``container_edu.figures.colors``, its tolerance from ``container_edu.analysis.explore.RELATIVE_TOLERANCE``.
"""

# pandas is imported here, once, under the import lock of ``app``, before any page runs. Plotly imports it lazily
# when it serialises a figure; when two sessions draw their first figure at the same moment on a fresh server, one
# thread could find the other's half-imported module ("partially initialized module 'pandas' has no attribute
# 'Series'", seen in `tools/load_test.py --quick` with a core kept busy). Importing ``app`` waits for it instead.
import pandas  # noqa: E402, F401
