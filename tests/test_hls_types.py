"""The host stand-ins of mbdsl_hls.h: ap_int/ap_uint wrap and sign, hls::stream order."""

from __future__ import annotations

import shutil
import subprocess
from importlib import resources

import pytest

from mbdsl.backends.hls import CXXFLAGS

PROGRAM = r"""
#include "mbdsl_hls.h"
#include "mbdsl_units.h"
#include <cstdio>
#define CHECK(c) do { if (!(c)) { std::printf("FAIL line %d: %s\n", __LINE__, #c); return 1; } } while (0)
int main() {
    // construction wraps to the width: two's complement for ap_int, modulo 2^W for ap_uint
    CHECK(ap_int<4>(7) == 7);
    CHECK(ap_int<4>(8) == -8);
    CHECK(ap_int<4>(-9) == 7);
    CHECK(ap_int<4>(-8) == -8);
    CHECK(ap_uint<4>(16) == 0);
    CHECK(ap_uint<4>(-1) == 15);
    CHECK(ap_uint<1>(3) == 1);
    CHECK(ap_int<2>(2) == -2);
    CHECK(ap_int<11>(1024) == -1024);
    CHECK(ap_int<23>(1 << 22) == -(1 << 22));
    CHECK(ap_uint<7>(200) == 72);
    CHECK(ap_int<33>(1LL << 32) == -(1LL << 32));
    CHECK(ap_int<64>(-5) == -5);
    CHECK(ap_uint<63>(-1) == 0x7fffffffffffffffLL);
    // storage is the smallest native integer
    static_assert(sizeof(ap_int<4>) == 1 && sizeof(ap_uint<8>) == 1 && sizeof(ap_int<9>) == 2, "storage");
    static_assert(sizeof(ap_int<17>) == 4 && sizeof(ap_int<33>) == 8, "storage");
    // arithmetic is exact in long long, assignment wraps
    ap_int<4> w = -7;
    ap_uint<4> x = 15;
    ap_int<9> p = w * x;
    CHECK(p == -105);
    ap_int<8> acc = 120;
    acc += 10;
    CHECK(acc == -126);
    ap_uint<4> u = 15;
    ++u;
    CHECK(u == 0);
    CHECK((ap_int<12>(-100) >> 3) == -13);  // arithmetic shift
    CHECK(ap_int<6>(ap_uint<8>(200)) == 8);
    CHECK(ap_uint<8>(ap_int<4>(-1)) == 255);
    CHECK(ap_int<5>(-3).to_int64() == -3 && ap_uint<5>(31).to_int() == 31);
    // streams are FIFOs that grow without bound
    hls::stream<mbdsl::vec<ap_uint<4>, 2> > s("s");
    for (int i = 0; i < 1000; i++) { mbdsl::vec<ap_uint<4>, 2> b; b.v[0] = i; b.v[1] = i + 1; s.write(b); }
    CHECK(s.size() == 1000);
    for (int i = 0; i < 1000; i++) { mbdsl::vec<ap_uint<4>, 2> b = s.read(); CHECK(b.v[0] == (i & 15) && b.v[1] == ((i + 1) & 15)); }
    CHECK(s.empty());
    // width converters keep the element order
    hls::stream<mbdsl::vec<ap_uint<8>, 6> > a("a");
    hls::stream<mbdsl::vec<ap_uint<8>, 2> > n("n");
    hls::stream<mbdsl::vec<ap_uint<8>, 6> > c("c");
    for (int i = 0; i < 2; i++) { mbdsl::vec<ap_uint<8>, 6> b; for (int j = 0; j < 6; j++) b.v[j] = 6 * i + j; a.write(b); }
    mbdsl::dwc_split<6, 2, 12, ap_uint<8> >(a, n);
    CHECK(n.size() == 6);
    mbdsl::dwc_gather<2, 6, 12, ap_uint<8> >(n, c);
    for (int i = 0; i < 2; i++) { mbdsl::vec<ap_uint<8>, 6> b = c.read(); for (int j = 0; j < 6; j++) CHECK(b.v[j] == 6 * i + j); }
    std::printf("ok\n");
    return 0;
}
"""


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_host_types(tmp_path):
    include = resources.files("mbdsl.backends.hls").joinpath("include")
    for name in ("mbdsl_hls.h", "mbdsl_units.h"):
        (tmp_path / name).write_text(include.joinpath(name).read_text())
    (tmp_path / "t.cpp").write_text(PROGRAM)
    subprocess.run(["g++", *CXXFLAGS, "-I", str(tmp_path), str(tmp_path / "t.cpp"), "-o", str(tmp_path / "t")], check=True)
    out = subprocess.run([str(tmp_path / "t")], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stdout


def test_empty_stream_read_aborts(tmp_path):
    include = resources.files("mbdsl.backends.hls").joinpath("include")
    (tmp_path / "mbdsl_hls.h").write_text(include.joinpath("mbdsl_hls.h").read_text())
    (tmp_path / "t.cpp").write_text('#include "mbdsl_hls.h"\nint main() { hls::stream<ap_int<3> > s("lonely"); return s.read(); }\n')
    subprocess.run(["g++", *CXXFLAGS, "-I", str(tmp_path), str(tmp_path / "t.cpp"), "-o", str(tmp_path / "t")], check=True)
    out = subprocess.run([str(tmp_path / "t")], capture_output=True, text=True)
    assert out.returncode != 0 and "read from empty stream 'lonely'" in out.stderr
