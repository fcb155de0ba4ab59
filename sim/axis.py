"""Small AXI-Stream drivers for cocotb 2.x: a source, a sink and a scoreboard.

Both drivers are stepped by one :class:`StreamBench` loop (one coroutine, two triggers
per cycle), which is faster in cocotb than separate coroutines per driver. Per cycle:

1. at the falling edge, the source and sink choose their outputs (``tvalid``/``tdata``
   and ``tready``) from a seeded random stall pattern;
2. in the ReadOnly phase of the same time step every combinational path has settled, so
   ``tvalid && tready`` seen there is exactly the handshake of the next rising edge.

The sink also checks the AXI-Stream rule that ``tdata`` stays stable while
``tvalid && !tready``, and the source never drops ``tvalid`` before a handshake.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


class StallPattern:
    """Seeded random on/off pattern: on with probability ``p``, plus rare long stalls."""

    def __init__(self, seed: int, p: float, burst_p: float = 0.02, burst_max: int = 24):
        self.rng = random.Random(seed)
        self.p = p
        self.burst_p = burst_p if p < 1.0 else 0.0
        self.burst_max = burst_max
        self.hold = 0

    def __call__(self) -> bool:
        if self.p >= 1.0:
            return True
        if self.hold > 0:
            self.hold -= 1
            return False
        if self.rng.random() < self.burst_p:
            self.hold = self.rng.randint(1, self.burst_max)
            return False
        return self.rng.random() < self.p


class AxisSource:
    """Drives ``<prefix>_tdata/tvalid`` from a list of beats with a random tvalid pattern."""

    def __init__(self, dut, beats: Sequence[int], pattern: StallPattern, prefix: str = "s_axis"):
        self.prefix = prefix
        self.tdata = getattr(dut, f"{prefix}_tdata")
        self.tvalid = getattr(dut, f"{prefix}_tvalid")
        self.tready = getattr(dut, f"{prefix}_tready")
        self.beats = list(beats)
        self.pattern = pattern
        self.idx = 0
        self.valid = False
        self._drop = False
        self.tvalid.value = 0
        self.tdata.value = 0

    @property
    def done(self) -> bool:
        return self.idx >= len(self.beats)

    def drive(self) -> None:
        """Falling edge: keep a pending beat, else maybe present the next one."""
        if self.valid:
            return  # AXI: tvalid stays up until the handshake
        if not self.done and self.pattern():
            self.valid = True
            self.tdata.value = self.beats[self.idx]
            self.tvalid.value = 1

    def sample(self) -> None:
        """ReadOnly: register the handshake of the coming rising edge."""
        if self.valid and int(self.tready.value):
            self.idx += 1
            self.valid = False
            self._drop = True
        else:
            self._drop = False

    def after_edge(self) -> None:
        if self._drop:
            self.tvalid.value = 0


class AxisSink:
    """Drives ``<prefix>_tready`` with a random pattern and collects the beats."""

    def __init__(self, dut, pattern: StallPattern, prefix: str = "m_axis"):
        self.tdata = getattr(dut, f"{prefix}_tdata")
        self.tvalid = getattr(dut, f"{prefix}_tvalid")
        self.tready = getattr(dut, f"{prefix}_tready")
        self.pattern = pattern
        self.beats: list[int] = []
        self.cycles: list[int] = []
        self.held: int | None = None
        self.errors: list[str] = []
        self.ready = False
        self.tready.value = 0

    def drive(self) -> None:
        r = self.pattern()
        if r != self.ready:
            self.tready.value = int(r)
            self.ready = r

    def sample(self, cycle: int) -> None:
        if not int(self.tvalid.value):
            if self.held is not None:
                self.errors.append(f"cycle {cycle}: tvalid dropped before the handshake")
                self.held = None
            return
        data = int(self.tdata.value)
        if self.held is not None and data != self.held and len(self.errors) < 10:
            self.errors.append(f"cycle {cycle}: tdata changed while stalled ({self.held:#x} -> {data:#x})")
        if self.ready:
            self.beats.append(data)
            self.cycles.append(cycle)
            self.held = None
        else:
            self.held = data


class Scoreboard:
    """Compares received beats with expected ones; ``describe(i)`` names beat i in errors."""

    def __init__(self, expected: Sequence[int], describe=None):
        self.expected = list(expected)
        self.describe = describe or (lambda i: f"beat {i}")

    def check(self, got: Sequence[int]) -> list[str]:
        errs = []
        for i, (g, e) in enumerate(zip(got, self.expected)):
            if g != e:
                errs.append(f"{self.describe(i)}: got {g:#x}, expected {e:#x}")
                if len(errs) >= 10:
                    break
        if len(got) != len(self.expected):
            errs.append(f"received {len(got)} beats, expected {len(self.expected)}")
        return errs


class StreamBench:
    """One source, one sink, a clock and a reset around a streaming DUT; ``side`` adds
    further sources (port prefix -> beats, e.g. a weight stream ``s_w``), stalled as the
    input is (``p_valid``, each its own seed)."""

    def __init__(self, dut, in_beats, n_out: int, seed: int = 0, p_valid: float = 1.0,
                 p_ready: float = 1.0, period_ns: int = 10, side: dict | None = None):
        self.dut = dut
        self.n_out = n_out
        self.period = period_ns
        self.src = AxisSource(dut, in_beats, StallPattern(seed * 2 + 1, p_valid))
        self.sink = AxisSink(dut, StallPattern(seed * 2 + 2, p_ready))
        self.side = [AxisSource(dut, beats, StallPattern(seed * 2 + 3 + n, p_valid), prefix)
                     for n, (prefix, beats) in enumerate((side or {}).items())]
        self.cycle = 0

    async def reset(self, cycles: int = 3) -> None:
        cocotb.start_soon(Clock(self.dut.clk, self.period, unit="ns").start())
        self.dut.rst_n.value = 0
        for _ in range(cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst_n.value = 1

    async def run(self, max_cycles: int, tail: int = 8) -> None:
        """Run until all input is sent and ``n_out`` beats arrived, then ``tail`` cycles more
        (to catch extra beats)."""
        src, sink = self.src, self.sink
        sources = [src, *self.side]
        clk = self.dut.clk
        extra = None
        while self.cycle < max_cycles:
            await FallingEdge(clk)
            for s in sources:
                s.after_edge()
                s.drive()
            sink.drive()
            await ReadOnly()
            for s in sources:
                s.sample()
            sink.sample(self.cycle)
            self.cycle += 1
            if extra is None and len(sink.beats) >= self.n_out and src.done:
                extra = tail
            if extra is not None:
                extra -= 1
                if extra <= 0:
                    break
        await RisingEdge(clk)
