"""`python -m mlsuite_client` runs the CLI."""

import sys

from mlsuite_client.cli import main

sys.exit(main())
