"""Session setup for the whole suite (collected from tests/): the tool markers' guard
(tests/toolmarks/) and the folder of the cocotb unit benches (sim/: harness, tb_*), which
the RTL unit tests and the simulator processes import."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "tests" / "toolmarks"), str(ROOT / "sim")]

pytest_plugins = ["toolmarks"]
