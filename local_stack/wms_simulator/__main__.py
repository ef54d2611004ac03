"""``python -m local_stack.wms_simulator`` (see ``cli.main``)."""

import sys

from local_stack.wms_simulator.cli import main

sys.exit(main())
