"""The package's dependencies run one way: frontend -> IR -> passes -> backends and tools.

The import graph is read from the source (every ``import`` statement, also those inside
functions and under ``TYPE_CHECKING``, since a deferred import is still a dependency), and
checked for cycles and for edges from a lower layer into a higher one. A run in a fresh
interpreter checks what checking a ``fold(auto)`` spec actually loads.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

IR = {"mbdsl.ir", "mbdsl.dtypes", "mbdsl.errors", "mbdsl.semantics", "mbdsl.files", "mbdsl.hints", "mbdsl.devices", "mbdsl.dsp48"}
"""The network model and what it is built from (types, errors, integer semantics, device data and
the DSP48E2 multiply's field arithmetic)."""
PASSES = {"mbdsl.passes", "mbdsl.dataflow", "mbdsl.legality", "mbdsl.autofold", "mbdsl.estimates"}
"""The checking passes with the dataflow model they use (cycles, folding legality, the optimizer)."""
FRONTEND = {"mbdsl.frontend"}

ALLOWED = {"ir": {"ir"}, "frontend": {"ir", "frontend"}, "passes": {"ir", "passes"}}
"""The layers each constrained layer may import from; modules in no constrained layer
(backends, tools, commands) may import anything below them."""


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package under ``root``."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """module -> the package's modules it imports (``from . import x`` counts as importing x)."""
    modules = module_names(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else [])) if node.level else node.module
                for alias in node.names:
                    found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def layer_of(module: str) -> str | None:
    for layer, members in (("ir", IR), ("frontend", FRONTEND), ("passes", PASSES)):
        if any(module == m or module.startswith(m + ".") for m in members):
            return layer
    return None


def upward_edges(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a constrained layer into a layer it may not use."""
    bad = []
    for src, targets in graph.items():
        layer = layer_of(src)
        if layer is None:
            continue
        bad += [(src, dst) for dst in sorted(targets) if layer_of(dst) not in ALLOWED[layer]]
    return sorted(bad)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), or a module
    importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT, "mbdsl")


def test_the_graph_sees_the_package(graph):
    assert "mbdsl.backends.rtl.top" in graph["mbdsl.backends.rtl.cost"]
    assert "mbdsl.backends.rtl.cost" in graph["mbdsl.report"]  # imported inside a function
    assert "mbdsl.autofold" in graph["mbdsl.passes.folding"]
    assert len(graph) > 80


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_frontend_ir_and_passes_import_no_backend_or_tool(graph):
    assert upward_edges(graph) == []


def test_every_module_of_a_constrained_layer_exists(graph):
    """The layer tables name real modules (a renamed module would silently leave its layer)."""
    for member in IR | PASSES | FRONTEND:
        assert member in graph, member


# ------------------------------------------------------------------ the checks can fail


def test_a_cycle_and_an_upward_edge_are_found():
    g = {
        "mbdsl.passes.folding": {"mbdsl.autofold"},
        "mbdsl.autofold": {"mbdsl.passes.folding", "mbdsl.backends.rtl.cost"},
        "mbdsl.backends.rtl.cost": {"mbdsl.ir"},
        "mbdsl.ir": set(),
        "mbdsl.frontend.elaborate": {"mbdsl.passes"},
    }
    assert cycles(g) == [["mbdsl.autofold", "mbdsl.passes.folding"]]
    assert upward_edges(g) == [("mbdsl.autofold", "mbdsl.backends.rtl.cost"), ("mbdsl.frontend.elaborate", "mbdsl.passes")]


def test_a_deferred_relative_import_into_a_backend_is_found(tmp_path):
    """The graph is read from source: an import inside a function, relative, is an edge."""
    files = {
        "mbdsl/__init__.py": "",
        "mbdsl/ir.py": "",
        "mbdsl/passes/__init__.py": "from .folding import fold\n",
        "mbdsl/passes/folding.py": "from .. import ir\n\ndef fold():\n    from ..backends.rtl import cost\n    return cost\n",
        "mbdsl/backends/__init__.py": "",
        "mbdsl/backends/rtl/__init__.py": "",
        "mbdsl/backends/rtl/cost.py": "from ...passes import folding\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    g = import_graph(tmp_path, "mbdsl")
    assert g["mbdsl.passes.folding"] == {"mbdsl.ir", "mbdsl.backends.rtl.cost"}
    assert ("mbdsl.passes.folding", "mbdsl.backends.rtl.cost") in upward_edges(g)
    assert ["mbdsl.backends.rtl.cost", "mbdsl.passes.folding"] in cycles(g)


# ------------------------------------------------------------------ what a run loads

_CHECK_AUTO = """
import json, sys
from mbdsl import passes
from mbdsl.dataflow import layer_cycles
from mbdsl.frontend import load_string
net = passes.check(load_string(sys.stdin.read(), "auto.mbn"))
print(json.dumps({"ii": max(layer_cycles(l) for l in net.layers),
                  "modules": sorted(m for m in sys.modules if m.startswith("mbdsl."))}))
"""

AUTO_SPEC = """
network auto {
  input 16x16x3 u8
  defaults { weights int4 narrow; activations uint4; quant thresholds; fold(auto) }
  weights random(seed = 1)
  conv  c0 3x3 stride 2 pad 1 -> 16  weights int8
  dwsep b1 stride 1 -> 32
  avgpool pool global
  fc    fc -> 10
  topk  top 1
}
target fpga { clock 200 MHz; fps 20000 }
"""


def _loaded_by_check(spec: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHECK_AUTO], input=spec, capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(proc.stdout)


def _tools(modules) -> list[str]:
    return [m for m in modules if m.startswith(("mbdsl.backends", "mbdsl.yosys", "mbdsl.commands", "mbdsl.params", "mbdsl.reference"))]


def test_checking_a_fold_auto_spec_loads_no_backend():
    run = _loaded_by_check(AUTO_SPEC)
    assert "mbdsl.autofold" in run["modules"] and run["ii"] <= 200e6 / 20_000  # the goal was met...
    assert _tools(run["modules"]) == []  # ...without the Verilator runner or any backend
    assert "mbdsl.backends.rtl.verilator" not in run["modules"]


def test_the_subprocess_check_sees_a_loaded_backend():
    """The probe is not blind: the same run that imports a backend reports it."""
    probe = _CHECK_AUTO.replace("from mbdsl import passes", "from mbdsl import passes\nimport mbdsl.backends.rtl.cost")
    proc = subprocess.run([sys.executable, "-c", probe], input=AUTO_SPEC, capture_output=True, text=True, cwd=ROOT, check=True)
    assert "mbdsl.backends.rtl.cost" in _tools(json.loads(proc.stdout)["modules"])


def test_the_rtl_cost_model_loads_no_tool():
    """The optimizer's resource model is the RTL backend's, not its Verilator or yosys runner."""
    probe = "import json, sys\nimport mbdsl.backends.rtl.cost\nprint(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    loaded = json.loads(proc.stdout)
    assert "mbdsl.backends.rtl.top" in loaded
    assert not {"mbdsl.backends.rtl.verilator", "mbdsl.yosys", "cocotb", "cocotb_tools"} & set(loaded)
