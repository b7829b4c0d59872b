"""Entry point: ``streamlit run streamlit_app.py``.

Sets the page config once and builds the navigation from ``pages/*.py``
(sorted by their number prefix, see ``app/navigation.py``), so pages added
by others, such as the Lessons (``pages/6_*.py``), appear without editing
this file.
"""

from __future__ import annotations

import logging

from app.navigation import navigation, set_page_config

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
set_page_config()
navigation().run()
