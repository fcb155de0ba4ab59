"""cocotb bench for mbdsl_mvau with its weights in UltraRAM (WMEM 1): the bench writes the
weight words through the unit's write port (as mbdsl_wload would), then streams the case of
tb_mvau through it with stalls on both sides."""

import cocotb

from tbutil import run_case

TOP = "mbdsl_mvau"


def make_case(p, *, seed, frames, workdir):
    """tb_mvau's case with the weights moved from the ROM file to the words to write."""
    from pathlib import Path

    import tb_mvau
    from mbdsl.backends.rtl.memories import WMEM_CODES

    case = tb_mvau.make_case(p, seed=seed, frames=frames, workdir=workdir)
    wfile = Path(case["params"].pop("WEIGHT_FILE"))
    case["load"] = [int(w, 16) for w in wfile.read_text().split()]
    case["params"]["WMEM"] = WMEM_CODES["uram"]
    return case


@cocotb.test()
async def mvau_uram_stream(dut):
    await run_case(dut)
