"""``python -m grader`` is ``streamgrade``."""

import sys

from grader.cli import main

sys.exit(main())
