"""`python -m bot.cli`: the same command as the `hitlbot` console script."""

import sys

from bot.cli.app import main

sys.exit(main())
