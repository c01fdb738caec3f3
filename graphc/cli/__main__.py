"""`python -m graphc.cli`: the same as the `graphc` command."""
import sys

from graphc.cli import main

sys.exit(main())
