"""``python -m xlsearch_es.cli``: the same as the ``xlsearch`` command."""

import sys

from . import main

sys.exit(main())
