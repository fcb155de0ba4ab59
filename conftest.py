"""Test-session plugins for both test folders (tests/, sim/)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tests" / "toolmarks"))

pytest_plugins = ["toolmarks"]
