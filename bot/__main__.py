"""`python -m bot` is the `outreach` command."""

import sys

from bot.cli import main

sys.exit(main())
