// mbdsl_mvau_stream: matrix-vector-activation unit (FINN MVAU style), MH x MW, PE x SIMD,
// with a weight-stream input; mbdsl_mvau is this unit with the stream tied off.
//
// Input per vector: SF = MW/SIMD beats of SIMD elements (IN_BITS each, element s of beat
// sf is column sf*SIMD + s). The vector is stored while it streams in (neuron fold 0) and
// replayed from the buffer for neuron folds 1 .. NF-1 (NF = MH/PE): NF*SF cycles per vector.
// Output per vector: NF beats of PE elements, element p of beat nf = row nf*PE + p:
// OUT_BITS codes OUT_MIN + #{i: acc >= T[row, i]}, or (N_THRES == 0) the raw ACC_BITS
// accumulator. Weight ROM (WEIGHT_FILE, $readmemh): NF*SF words, word nf*SF + sf, lane
// (p, s) at bit (p*SIMD + s)*W_BITS = W[nf*PE + p, sf*SIMD + s]. Threshold ROM
// (THRESH_FILE): NF words, lane (p, i) at bit (p*N_THRES + i)*ACC_BITS = T[nf*PE + p, i].
// Bias ROM (HAS_BIAS, BIAS_FILE): NF words, lane p at bit p*ACC_BITS = b[nf*PE + p]; each
// row's accumulation starts at its bias (raw classifier outputs acc + b).
// With REQUANT (N_THRES = 0): codes clip(round_shift((acc + bias) * m0, RQ_SHIFT)), the
// constants from RQ_FILE (NF words, see mbdsl_requant).
// Weights are signed when W_SIGNED (default), inputs when IN_SIGNED; accumulators and
// thresholds are signed ACC_BITS. The core's pipeline never stalls: output backpressure
// ends at its credit queue, and tready depends on registers only.
//
// Weights (WMEM): 0, in the core's ROM; 1, in its UltraRAM, written through i_wen/i_waddr/
// i_wdata before the first beat (mbdsl_wload); 2, streamed: the weight words of the ROM's format,
// in its address order (word nf*SF + sf, then again from 0 for the next vector), arrive on
// s_w_tdata (whole bytes; the word in its low PE*SIMD*W_BITS bits) and wait in a two-word
// FIFO (mbdsl_fifo: registered ready and head). A beat is issued only when the head word is
// there as well, and pops it; a stream that delivers a word a cycle keeps the unit at its
// ROM rate (NF*SF cycles per vector). With WMEM != 2 the stream is unused (s_w_tready 0).
module mbdsl_mvau_stream #(
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
    parameter int WMEM      = 0,      // where the weights live: 0 the core's ROM, 1 its UltraRAM (i_wen), 2 the s_w stream
    localparam int WSB = (PE*SIMD*W_BITS + 7) / 8 * 8,  // the stream's word: whole bytes
    localparam int WAW = (MH / PE * (MW / SIMD) > 1) ? $clog2(MH / PE * (MW / SIMD)) : 1
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic [SIMD*IN_BITS-1:0]   s_axis_tdata,
    input  logic                      s_axis_tvalid,
    output logic                      s_axis_tready,
    input  logic [WSB-1:0]            s_w_tdata,
    input  logic                      s_w_tvalid,
    output logic                      s_w_tready,
    output logic [PE*((N_THRES == 0 && !REQUANT) ? ACC_BITS : OUT_BITS)-1:0] m_axis_tdata,
    output logic                      m_axis_tvalid,
    input  logic                      m_axis_tready,
    input  logic                      i_wen = 1'b0,   // WMEM 1: weight word i_waddr := i_wdata
    input  logic [WAW-1:0]            i_waddr = '0,
    input  logic [PE*SIMD*W_BITS-1:0] i_wdata = '0
);
    localparam int NF  = MH / PE;
    localparam int SF  = MW / SIMD;
    localparam int NFW = (NF > 1) ? $clog2(NF) : 1;
    localparam int SFW = (SF > 1) ? $clog2(SF) : 1;
    localparam int XW  = SIMD * IN_BITS;
    localparam int WW  = PE * SIMD * W_BITS;

    logic ready;
    logic [NFW-1:0] nf;
    logic [SFW-1:0] sf;
    logic [XW-1:0] ibuf [SF];
    logic [WW-1:0] w;   // the weight word of the next issued beat (WMEM 2)
    logic w_valid;

    wire fold0 = (nf == '0);
    wire issue = ready && w_valid && (fold0 ? s_axis_tvalid : 1'b1);
    assign s_axis_tready = ready && w_valid && fold0;

    if (WMEM == 2) begin : g_wstream
        if (WSB > WW) begin : g_pad
            wire unused = &{1'b0, s_w_tdata[WSB-1:WW]};
        end
        mbdsl_fifo #(.WIDTH(WW), .DEPTH(2)) u_wfifo (
            .clk, .rst_n,
            .s_axis_tdata(s_w_tdata[WW-1:0]), .s_axis_tvalid(s_w_tvalid), .s_axis_tready(s_w_tready),
            .m_axis_tdata(w), .m_axis_tvalid(w_valid), .m_axis_tready(issue)
        );
    end else begin : g_wrom
        wire unused = &{1'b0, s_w_tdata, s_w_tvalid};
        assign s_w_tready = 1'b0;
        assign w = '0;
        assign w_valid = 1'b1;
    end
    wire [XW-1:0] x = fold0 ? s_axis_tdata : ibuf[sf];

    always_ff @(posedge clk) begin
        if (issue && fold0) ibuf[sf] <= s_axis_tdata;
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            nf <= '0;
            sf <= '0;
        end else if (issue) begin
            if (sf == SFW'(SF - 1)) begin
                sf <= '0;
                nf <= (nf == NFW'(NF - 1)) ? '0 : nf + 1'b1;
            end else begin
                sf <= sf + 1'b1;
            end
        end
    end

    mbdsl_mac_core #(
        .PE(PE), .SIMD(SIMD), .SF(SF), .NF(NF), .X_SHARED(1'b1),
        .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS), .W_SIGNED(W_SIGNED),
        .ACC_BITS(ACC_BITS), .N_THRES(N_THRES), .OUT_BITS(OUT_BITS), .OUT_MIN(OUT_MIN),
        .WEIGHT_FILE(WEIGHT_FILE), .THRESH_FILE(THRESH_FILE),
        .HAS_BIAS(HAS_BIAS), .BIAS_FILE(BIAS_FILE), .REQUANT(REQUANT), .RQ_BIAS_BITS(RQ_BIAS_BITS),
        .RQ_M0_BITS(RQ_M0_BITS), .RQ_PROD_BITS(RQ_PROD_BITS), .RQ_SHIFT(RQ_SHIFT), .RQ_FILE(RQ_FILE),
        .MULT(MULT), .PACK(PACK), .WMEM(WMEM)
    ) u_core (
        .clk, .rst_n,
        .i_valid(issue), .i_x(x), .i_w(w), .o_ready(ready),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready,
        .i_wen, .i_waddr, .i_wdata
    );
endmodule
