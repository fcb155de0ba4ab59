// mbdsl_units.h: the layer-independent streaming units of mbdsl's generated HLS C++:
// data-width converters between layers and the NV12 front end. The per-layer units
// (window generators, matrix-vector and vector units, pool, top-k) are generated with
// their constants and weights in layers/*.cpp.
#ifndef MBDSL_UNITS_H
#define MBDSL_UNITS_H

#include "mbdsl_hls.h"

namespace mbdsl {

// Data-width converter, IN elements per input beat to OUT per output beat (IN % OUT == 0),
// TOTAL elements per frame; element order is kept.
template <int IN, int OUT, int TOTAL, typename T>
void dwc_split(hls::stream<vec<T, IN> >& in, hls::stream<vec<T, OUT> >& out) {
#pragma HLS INLINE off
    static_assert(IN % OUT == 0 && TOTAL % IN == 0, "dwc_split: OUT must divide IN, IN must divide TOTAL");
    T buf[IN];
#pragma HLS ARRAY_PARTITION variable=buf complete
    const int PARTS = IN / OUT;  // output beats per input beat
    int part = 0;
    for (int i = 0; i < TOTAL / OUT; i++) {
#pragma HLS PIPELINE II=1
        if (part == 0) {
            const vec<T, IN> x = in.read();
            for (int j = 0; j < IN; j++) {
#pragma HLS UNROLL
                buf[j] = x.v[j];
            }
        }
        vec<T, OUT> o;
        for (int j = 0; j < OUT; j++) {
#pragma HLS UNROLL
            o.v[j] = buf[part * OUT + j];
        }
        out.write(o);
        part = part == PARTS - 1 ? 0 : part + 1;
    }
}

// Data-width converter, IN elements per input beat to OUT per output beat (OUT % IN == 0).
template <int IN, int OUT, int TOTAL, typename T>
void dwc_gather(hls::stream<vec<T, IN> >& in, hls::stream<vec<T, OUT> >& out) {
#pragma HLS INLINE off
    static_assert(OUT % IN == 0 && TOTAL % OUT == 0, "dwc_gather: IN must divide OUT, OUT must divide TOTAL");
    T buf[OUT];
#pragma HLS ARRAY_PARTITION variable=buf complete
    const int PARTS = OUT / IN;  // input beats per output beat
    int part = 0;
    for (int i = 0; i < TOTAL / IN; i++) {
#pragma HLS PIPELINE II=1
        const vec<T, IN> x = in.read();
        for (int j = 0; j < IN; j++) {
#pragma HLS UNROLL
            buf[part * IN + j] = x.v[j];
        }
        if (part == PARTS - 1) {
            vec<T, OUT> o;
            for (int j = 0; j < OUT; j++) {
#pragma HLS UNROLL
                o.v[j] = buf[j];
            }
            out.write(o);
            part = 0;
        } else {
            part++;
        }
    }
}

// x clipped to [lo, hi].
inline long long clip(long long x, long long lo, long long hi) { return x < lo ? lo : x > hi ? hi : x; }

// NV12 -> RGB, integer BT.601 limited range (as mbdsl.semantics.nv12_to_rgb), for a
// W x H frame (W, H even). Input: one byte per beat; for each pair of rows the
// interleaved UV row (W bytes: U0 V0 U1 V1 ...), then Y row 2i, then Y row 2i+1 (the
// order of the RTL front end). Output: one RGB pixel per beat, row-major.
template <int W, int H>
void nv12_to_rgb(hls::stream<vec<ap_uint<8>, 1> >& in, hls::stream<vec<ap_uint<8>, 3> >& out) {
#pragma HLS INLINE off
    ap_uint<8> u[W / 2];
    ap_uint<8> v[W / 2];
    int phase = 0;  // 0: UV row, 1: Y row 2i, 2: Y row 2i+1
    int col = 0;
    for (int i = 0; i < H / 2 * 3 * W; i++) {
#pragma HLS PIPELINE II=1
        // u[c] and v[c] are written in a UV row and read in the two Y rows after it: a write
        // and a read of the same entry are at least W - 1 iterations apart, either way.
#pragma HLS DEPENDENCE variable=u type=inter dependent=true distance=W-1
#pragma HLS DEPENDENCE variable=v type=inter dependent=true distance=W-1
        const int b = static_cast<int>(in.read().v[0]);
        if (phase == 0) {
            if (col % 2 == 0) {
                u[col / 2] = b;
            } else {
                v[col / 2] = b;
            }
        } else {
            const int y = b - 16;
            const int d = static_cast<int>(u[col / 2]) - 128;
            const int e = static_cast<int>(v[col / 2]) - 128;
            vec<ap_uint<8>, 3> rgb;
            rgb.v[0] = clip((298 * y + 409 * e + 128) >> 8, 0, 255);
            rgb.v[1] = clip((298 * y - 100 * d - 208 * e + 128) >> 8, 0, 255);
            rgb.v[2] = clip((298 * y + 516 * d + 128) >> 8, 0, 255);
            out.write(rgb);
        }
        if (col == W - 1) {
            col = 0;
            phase = phase == 2 ? 0 : phase + 1;
        } else {
            col++;
        }
    }
}

}  // namespace mbdsl

#endif  // MBDSL_UNITS_H
