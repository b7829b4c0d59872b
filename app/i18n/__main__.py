"""``python -m app.i18n extract|update|check``: maintaining the catalogues (see :mod:`app.i18n.catalog`)."""

import sys

from app.i18n.catalog import main

sys.exit(main(sys.argv[1:]))
