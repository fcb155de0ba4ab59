// mbdsl_mvau: matrix-vector-activation unit (FINN MVAU style), MH x MW, PE x SIMD, its
// weights on chip (WMEM 0: the weight ROM, WEIGHT_FILE; 1: UltraRAM written through i_wen):
// mbdsl_mvau_stream without its weight stream, which describes the unit, its streams and its
// memory formats.
module mbdsl_mvau #(
    parameter int MH        = 8,
    parameter int MW        = 8,
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
    parameter int MULT      = 0,      // multipliers: 0 (synthesis decides) or mbdsl_mac_core's MULT_LUT, MULT_DSP, MULT_PACKED
    parameter int PACK      = 1,      // MULT_PACKED: PE lanes per DSP multiply
    parameter int WMEM      = 0,      // where the weights live: 0 the ROM, 1 UltraRAM written through i_wen (mbdsl_mac_core)
    localparam int WAW = (MH / PE * (MW / SIMD) > 1) ? $clog2(MH / PE * (MW / SIMD)) : 1
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic [SIMD*IN_BITS-1:0]   s_axis_tdata,
    input  logic                      s_axis_tvalid,
    output logic                      s_axis_tready,
    output logic [PE*((N_THRES == 0 && !REQUANT) ? ACC_BITS : OUT_BITS)-1:0] m_axis_tdata,
    output logic                      m_axis_tvalid,
    input  logic                      m_axis_tready,
    input  logic                      i_wen = 1'b0,   // WMEM 1: weight word i_waddr := i_wdata
    input  logic [WAW-1:0]            i_waddr = '0,
    input  logic [PE*SIMD*W_BITS-1:0] i_wdata = '0
);
    logic unused_w_ready;

    mbdsl_mvau_stream #(
        .MH(MH), .MW(MW), .PE(PE), .SIMD(SIMD), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED),
        .W_BITS(W_BITS), .W_SIGNED(W_SIGNED), .ACC_BITS(ACC_BITS), .N_THRES(N_THRES),
        .OUT_BITS(OUT_BITS), .OUT_MIN(OUT_MIN), .WEIGHT_FILE(WEIGHT_FILE), .THRESH_FILE(THRESH_FILE),
        .HAS_BIAS(HAS_BIAS), .BIAS_FILE(BIAS_FILE), .REQUANT(REQUANT), .RQ_BIAS_BITS(RQ_BIAS_BITS),
        .RQ_M0_BITS(RQ_M0_BITS), .RQ_PROD_BITS(RQ_PROD_BITS), .RQ_SHIFT(RQ_SHIFT), .RQ_FILE(RQ_FILE),
        .MULT(MULT), .PACK(PACK), .WMEM(WMEM)
    ) u_mvau (
        .clk, .rst_n,
        .s_axis_tdata, .s_axis_tvalid, .s_axis_tready,
        .s_w_tdata('0), .s_w_tvalid(1'b0), .s_w_tready(unused_w_ready),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready,
        .i_wen, .i_waddr, .i_wdata
    );
endmodule
