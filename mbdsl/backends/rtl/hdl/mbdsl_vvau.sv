// mbdsl_vvau: depthwise vector-activation unit, C channels, K2 = K*K kernel positions,
// PE lanes over channels, SIMD lanes over kernel positions.
//
// Input (sliding-window generator, DW=1 order, CPAR=PE, KPAR=SIMD): per output pixel,
// for channel group g in 0..C/PE-1, for kernel group kg in 0..K2/SIMD-1, one beat of
// PE*SIMD elements; element kp*PE + p is (kernel position kg*SIMD + kp, channel g*PE + p).
// Output per pixel: C/PE beats of PE elements in channel order (codes, or raw ACC_BITS
// accumulators when N_THRES == 0). C*K2/(PE*SIMD) cycles per pixel.
// Weight ROM: (C/PE)*(K2/SIMD) words, word g*(K2/SIMD) + kg, lane (p, s) at bit
// (p*SIMD + s)*W_BITS = w[g*PE + p, kg*SIMD + s] (kernel position index kh*K + kw).
// Threshold ROM: C/PE words, lane (p, i) at bit (p*N_THRES + i)*ACC_BITS.
// Bias ROM (HAS_BIAS, BIAS_FILE): C/PE words, lane p at bit p*ACC_BITS; each channel's
// accumulation starts at its bias.
// With REQUANT (N_THRES = 0): codes clip(round_shift((acc + bias) * m0, RQ_SHIFT)), the
// constants from RQ_FILE (C/PE words, see mbdsl_requant).
module mbdsl_vvau #(
    parameter int C         = 8,
    parameter int K2        = 9,
    parameter int PE        = 1,
    parameter int SIMD      = 1,
    parameter int IN_BITS   = 4,
    parameter bit IN_SIGNED = 1'b0,
    parameter int W_BITS    = 4,
    parameter bit W_SIGNED  = 1'b1,
    parameter int ACC_BITS  = 16,
    parameter int N_THRES   = 15,
    parameter int OUT_BITS  = 4,
    parameter int OUT_MIN   = 0,
    parameter WEIGHT_FILE   = "",
    parameter THRESH_FILE   = "",
    parameter bit HAS_BIAS  = 1'b0,
    parameter BIAS_FILE     = "",
    parameter bit REQUANT   = 1'b0,
    parameter int RQ_BIAS_BITS = 1,
    parameter int RQ_M0_BITS   = 1,
    parameter int RQ_PROD_BITS = 2,
    parameter int RQ_SHIFT     = 0,
    parameter RQ_FILE       = "",
    parameter int MULT      = 0       // multipliers: 0 (synthesis decides) or mbdsl_mac_core's MULT_*; MULT_PACKED
                                      // puts two lanes in a multiply (mbdsl_mul_pair)
) (
    input  logic                         clk,
    input  logic                         rst_n,
    input  logic [PE*SIMD*IN_BITS-1:0]   s_axis_tdata,
    input  logic                         s_axis_tvalid,
    output logic                         s_axis_tready,
    output logic [PE*((N_THRES == 0 && !REQUANT) ? ACC_BITS : OUT_BITS)-1:0] m_axis_tdata,
    output logic                         m_axis_tvalid,
    input  logic                         m_axis_tready
);
    logic ready;
    logic [PE*SIMD*IN_BITS-1:0] x;

    // stream element kp*PE + p -> core lane p*SIMD + kp
    for (genvar p = 0; p < PE; p++) begin : g_pe
        for (genvar s = 0; s < SIMD; s++) begin : g_simd
            assign x[(p*SIMD + s)*IN_BITS +: IN_BITS] = s_axis_tdata[(s*PE + p)*IN_BITS +: IN_BITS];
        end
    end

    assign s_axis_tready = ready;

    mbdsl_mac_core #(
        .PE(PE), .SIMD(SIMD), .SF(K2 / SIMD), .NF(C / PE), .X_SHARED(1'b0),
        .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS), .W_SIGNED(W_SIGNED),
        .ACC_BITS(ACC_BITS), .N_THRES(N_THRES), .OUT_BITS(OUT_BITS), .OUT_MIN(OUT_MIN),
        .WEIGHT_FILE(WEIGHT_FILE), .THRESH_FILE(THRESH_FILE),
        .HAS_BIAS(HAS_BIAS), .BIAS_FILE(BIAS_FILE), .REQUANT(REQUANT), .RQ_BIAS_BITS(RQ_BIAS_BITS),
        .RQ_M0_BITS(RQ_M0_BITS), .RQ_PROD_BITS(RQ_PROD_BITS), .RQ_SHIFT(RQ_SHIFT), .RQ_FILE(RQ_FILE),
        .MULT(MULT)
    ) u_core (
        .clk, .rst_n,
        .i_valid(ready && s_axis_tvalid), .i_x(x), .i_w('0), .o_ready(ready),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );
endmodule
