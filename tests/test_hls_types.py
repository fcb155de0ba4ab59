"""What the generated HLS C++ relies on in the vendor's ap_int/hls::stream (the headers
`mbdsl csim` compiles against), mbdsl's additions (mbdsl::rom, mbdsl::vec, the width
converters), and how the header folder is found."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from importlib import resources

import pytest

from mbdsl.backends.hls import CXXFLAGS, csim
from mbdsl.cli import main
from mbdsl.errors import MbdslError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROGRAM = r"""
#include "mbdsl_hls.h"
#include "mbdsl_units.h"
#include <cstdio>
#include <type_traits>
#define CHECK(c) do { if (!(c)) { std::printf("FAIL line %d: %s\n", __LINE__, #c); return 1; } } while (0)
int main() {
    // construction wraps to the width: two's complement for ap_int, modulo 2^W for ap_uint
    CHECK(ap_int<4>(7) == 7);
    CHECK(ap_int<4>(8) == -8);
    CHECK(ap_int<4>(-9) == 7);
    CHECK(ap_uint<4>(16) == 0);
    CHECK(ap_uint<4>(-1) == 15);
    CHECK(ap_int<2>(2) == -2);
    CHECK(ap_int<11>(1024) == -1024);
    CHECK(ap_int<33>(1LL << 32) == -(1LL << 32));
    CHECK(ap_uint<64>(-1) == ap_uint<64>(0xffffffffffffffffULL));
    // assignment of a wider result wraps; the product of two ap types is exact
    ap_int<4> w = -7;
    ap_uint<4> x = 15;
    ap_int<9> p = w * x;
    CHECK(p == -105);
    ap_int<8> acc = 120;
    acc += 10;
    CHECK(acc == -126);
    CHECK((ap_int<12>(-100) >> 3) == -13);  // arithmetic shift
    CHECK(ap_int<6>(ap_uint<8>(200)) == 8);
    CHECK(ap_uint<8>(ap_int<4>(-1)) == 255);
    CHECK(ap_int<5>(-3).to_int64() == -3 && ap_uint<5>(31).to_int() == 31);
    // past 64 bits: exact sums and products, wrap at the width, range() of a wide word
    ap_int<80> big = ap_int<80>(1LL << 62) * 64;     // 2^68
    big += big;                                      // 2^69
    CHECK((big >> 60) == 512);
    ap_int<70> wrapped = big;                        // 2^69 is -2^69 in 70 bits
    CHECK(wrapped < 0 && (wrapped >> 60) == -512);
    ap_uint<128> word = 0;
    word.range(127, 124) = 9;
    word.range(3, 0) = 5;
    CHECK(word.range(127, 124) == 9 && word.range(3, 0) == 5 && word.range(123, 4) == 0);
    ap_int<1100> huge = ap_int<1100>(-3);
    huge = huge * ap_int<1100>(1LL << 40) * ap_int<1100>(1LL << 40);
    CHECK((huge >> 80) == -3);
    // mbdsl::rom: the smallest native integer on a host (the type itself past 64 bits);
    // reading it back into the ap type restores the value
    static_assert(std::is_same<mbdsl::rom<ap_int<4> >::type, signed char>::value, "rom int4");
    static_assert(std::is_same<mbdsl::rom<ap_uint<8> >::type, unsigned char>::value, "rom uint8");
    static_assert(std::is_same<mbdsl::rom<ap_int<17> >::type, int>::value, "rom int17");
    static_assert(std::is_same<mbdsl::rom<ap_int<64> >::type, long long>::value, "rom int64");
    static_assert(std::is_same<mbdsl::rom<ap_int<65> >::type, ap_int<65> >::value, "rom int65");
    static const mbdsl::rom<ap_int<4> >::type weights[3] = {-8, 7, -1};
    CHECK(ap_int<4>(weights[0]) * ap_uint<4>(15) == -120 && ap_int<4>(weights[1]) == 7);
    // streams are FIFOs
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


def _compile(tmp_path, program: str) -> str:
    include = resources.files("mbdsl.backends.hls").joinpath("include")
    for name in ("mbdsl_hls.h", "mbdsl_units.h"):
        (tmp_path / name).write_text(include.joinpath(name).read_text())
    (tmp_path / "t.cpp").write_text(program)
    cmd = ["g++", *CXXFLAGS, "-isystem", csim.find_ap_types(), "-I", str(tmp_path), str(tmp_path / "t.cpp"), "-o", str(tmp_path / "t")]
    subprocess.run(cmd, check=True)
    return str(tmp_path / "t")


@pytest.mark.gcc
def test_vendor_types(tmp_path):
    out = subprocess.run([_compile(tmp_path, PROGRAM)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stdout


@pytest.mark.gcc
def test_vendor_empty_stream_read_only_warns(tmp_path):
    """The vendor stream returns a default beat and prints a warning on stdout when read
    empty: the reason csim.run fails on any unexpected testbench output (next test)."""
    exe = _compile(tmp_path, '#include "mbdsl_hls.h"\nint main() { hls::stream<ap_int<3> > s("lonely"); s.read(); return 0; }\n')
    out = subprocess.run([exe], capture_output=True, text=True)
    assert out.returncode == 0 and "'lonely' is read while empty" in out.stdout


def test_run_fails_on_stream_warning(tmp_path):
    script = tmp_path / "tb"
    script.write_text("#!/bin/sh\necho \"frame 0 1.0\"\necho \"WARNING: Hls::stream 'b1_in' is read while empty, which may result in RTL simulation hanging.\"\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    b = csim.Build(str(script), str(tmp_path), {"layers": []}, 0.0, 0, 0)
    with pytest.raises(MbdslError, match=r"the HLS testbench printed:\\nWARNING: Hls::stream 'b1_in' is read while empty"):
        csim.run(b, None, [])


def test_finds_the_hls4ml_headers():
    folder = csim.find_ap_types()
    assert folder.endswith(os.path.join("hls4ml", "templates", "vivado", "ap_types"))
    assert csim.find_ap_types(folder) == folder


def test_ap_types_folder_without_headers(tmp_path):
    (tmp_path / "ap_int.h").write_text("")
    with pytest.raises(MbdslError, match=r"^error: --ap-types: no hls_stream\.h in ") as e:
        csim.find_ap_types(str(tmp_path))
    assert "mbdsl[hls]" in e.value.hint


def test_csim_bad_ap_types_is_a_cli_error(tmp_path, capsys):
    spec = os.path.join(ROOT, "specs/mobilenet_v1_w0.25_32.mbn")
    out = tmp_path / "gen"
    rc = main(["csim", spec, "--ap-types", str(tmp_path / "nowhere"), "-o", str(out), "--build-dir", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert rc == 2
    assert re.fullmatch(r"error: --ap-types: no ap_int\.h or hls_stream\.h in \S+/nowhere\nhint: .*mbdsl\[hls\].*\n", err), err
    assert not out.exists() and not (tmp_path / "b").exists()


def test_without_hls4ml(monkeypatch):
    real = csim.importlib.util.find_spec
    monkeypatch.setattr(csim.importlib.util, "find_spec", lambda name: None if name == "hls4ml" else real(name))
    with pytest.raises(MbdslError, match=r"^error: the Vitis HLS type headers \(ap_int\.h, hls_stream\.h\) were not found\nhint: pip install 'mbdsl\[hls\]'"):
        csim.find_ap_types()
