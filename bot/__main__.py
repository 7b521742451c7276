"""`python -m bot …` is `certmate …`."""

import sys

from bot.cli import main

sys.exit(main())
