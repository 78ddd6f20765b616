"""`python -m bloodbank.cli`, as the `lbb` script."""

import sys

from bloodbank.cli import main

sys.exit(main())
