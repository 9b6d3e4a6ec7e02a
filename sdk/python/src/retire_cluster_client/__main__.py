"""python -m retire_cluster_client: the retire-cluster command."""

import sys

from .cli import main

sys.exit(main())
