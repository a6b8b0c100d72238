"""``python -m vecrank``: the vecrank command."""

import sys

from .cli import main

sys.exit(main())
