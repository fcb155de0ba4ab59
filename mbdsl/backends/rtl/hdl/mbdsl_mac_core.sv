// mbdsl_mac_core: the shared datapath of mbdsl_mvau and mbdsl_vvau.
//
// Each issued beat (i_valid while o_en) is multiplied lane by lane with the next weight-ROM
// word, reduced over SIMD per PE lane, and accumulated over SF consecutive beats; after the
// SF-th beat the PE accumulators are thresholded (or passed raw if N_THRES == 0) and sent
// on the output stream. Weight words are read in address order 0 .. NF*SF-1 (then wrap),
// threshold and bias words 0 .. NF-1. With HAS_BIAS, each accumulation starts at its
// row's bias instead of 0 (a classifier's logits acc + bias; ACC_BITS must hold the sum).
//
// Pipeline (5 stages, all advancing together on o_en = !m_axis_tvalid || m_axis_tready):
//   S1 weight-ROM read (registered, BRAM-friendly) and input register
//   S2 PE*SIMD products    S3 adder trees, bias-ROM read    S4 accumulators, threshold-ROM read
//   S5 threshold compare -> output register
//
// ROM formats: weight word = PE*SIMD*W_BITS bits, lane (p, s) at bit (p*SIMD + s)*W_BITS;
// threshold word = PE*N_THRES*ACC_BITS bits, lane (p, i) at bit (p*N_THRES + i)*ACC_BITS;
// bias word = PE*ACC_BITS bits, lane p at bit p*ACC_BITS.
module mbdsl_mac_core #(
    parameter int PE        = 1,
    parameter int SIMD      = 1,
    parameter int SF        = 1,      // beats per accumulation
    parameter int NF        = 1,      // accumulations per pass over the weight ROM
    parameter bit X_SHARED  = 1'b1,   // 1: i_x has SIMD lanes shared by all PEs (MVAU)
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
    localparam int XW = X_SHARED ? SIMD*IN_BITS : PE*SIMD*IN_BITS,
    localparam int OB = (N_THRES == 0) ? ACC_BITS : OUT_BITS
) (
    input  logic            clk,
    input  logic            rst_n,
    input  logic            i_valid,
    input  logic [XW-1:0]   i_x,
    output logic            o_en,
    output logic [PE*OB-1:0] m_axis_tdata,
    output logic            m_axis_tvalid,
    input  logic            m_axis_tready
);
    localparam int NW  = NF * SF;
    localparam int WAW = (NW > 1) ? $clog2(NW) : 1;
    localparam int TAW = (NF > 1) ? $clog2(NF) : 1;
    localparam int SFW = (SF > 1) ? $clog2(SF) : 1;
    localparam int WW  = PE * SIMD * W_BITS;
    localparam int PW  = IN_BITS + W_BITS + 2;

    wire en = !m_axis_tvalid || m_axis_tready;
    assign o_en = en;

    // ---------------- S1: weight ROM, input register ----------------
    logic [WW-1:0] wrom [NW];
    initial $readmemh(WEIGHT_FILE, wrom);

    logic [WAW-1:0] waddr;
    logic [SFW-1:0] sf;
    logic [WW-1:0] w1;
    logic [XW-1:0] x1;
    logic v1, first1, last1;

    always_ff @(posedge clk) begin
        if (en) begin
            w1 <= wrom[waddr];
            x1 <= i_x;
            first1 <= (sf == '0);
            last1 <= (sf == SFW'(SF - 1));
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            waddr <= '0;
            sf <= '0;
            v1 <= 1'b0;
        end else if (en) begin
            v1 <= i_valid;
            if (i_valid) begin
                waddr <= (waddr == WAW'(NW - 1)) ? '0 : waddr + 1'b1;
                sf <= (sf == SFW'(SF - 1)) ? '0 : sf + 1'b1;
            end
        end
    end

    // ---------------- S2: products ----------------
    logic [PE*SIMD*ACC_BITS-1:0] prod2;
    logic v2, first2, last2;

    for (genvar p = 0; p < PE; p++) begin : g_pe
        for (genvar s = 0; s < SIMD; s++) begin : g_simd
            localparam int XI = X_SHARED ? s : p*SIMD + s;
            logic [IN_BITS-1:0] xr;
            logic [W_BITS-1:0] wr;
            logic signed [IN_BITS:0] xe;
            logic signed [W_BITS:0] we;
            logic signed [PW-1:0] pr;
            assign xr = x1[XI*IN_BITS +: IN_BITS];
            assign wr = w1[(p*SIMD + s)*W_BITS +: W_BITS];
            assign xe = $signed({IN_SIGNED ? xr[IN_BITS-1] : 1'b0, xr});
            assign we = $signed({W_SIGNED ? wr[W_BITS-1] : 1'b0, wr});
            assign pr = PW'(xe) * PW'(we);
            always_ff @(posedge clk) begin
                if (en) prod2[(p*SIMD + s)*ACC_BITS +: ACC_BITS] <= ACC_BITS'(pr);
            end
        end
    end

    // ---------------- S3: adder trees ----------------
    logic [PE*ACC_BITS-1:0] sum3;
    logic v3, first3, last3;

    for (genvar p = 0; p < PE; p++) begin : g_tree
        logic [ACC_BITS-1:0] s;
        mbdsl_addtree #(.N(SIMD), .W(ACC_BITS)) u_tree (
            .i_terms(prod2[p*SIMD*ACC_BITS +: SIMD*ACC_BITS]),
            .o_sum(s)
        );
        always_ff @(posedge clk) begin
            if (en) sum3[p*ACC_BITS +: ACC_BITS] <= s;
        end
    end

    // the value each accumulation starts from: its row's bias, or 0
    logic [PE*ACC_BITS-1:0] start3;

    if (HAS_BIAS) begin : g_bias
        logic [PE*ACC_BITS-1:0] brom [NF];
        initial $readmemh(BIAS_FILE, brom);
        logic [TAW-1:0] baddr;
        wire bnext = en && v2 && first2;
        always_ff @(posedge clk) begin
            if (bnext) start3 <= brom[baddr];
        end
        always_ff @(posedge clk) begin
            if (!rst_n) baddr <= '0;
            else if (bnext) baddr <= (baddr == TAW'(NF - 1)) ? '0 : baddr + 1'b1;
        end
    end else begin : g_zero
        assign start3 = '0;
    end

    // ---------------- S4: accumulate, threshold ROM ----------------
    logic [PE*ACC_BITS-1:0] acc4;
    logic done4;

    for (genvar p = 0; p < PE; p++) begin : g_acc
        always_ff @(posedge clk) begin
            if (en && v3)
                acc4[p*ACC_BITS +: ACC_BITS] <=
                    (first3 ? start3[p*ACC_BITS +: ACC_BITS] : acc4[p*ACC_BITS +: ACC_BITS])
                    + sum3[p*ACC_BITS +: ACC_BITS];
        end
    end

    always_ff @(posedge clk) begin
        if (en) begin
            first2 <= first1;
            last2 <= last1;
            first3 <= first2;
            last3 <= last2;
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            v2 <= 1'b0;
            v3 <= 1'b0;
            done4 <= 1'b0;
        end else if (en) begin
            v2 <= v1;
            v3 <= v2;
            done4 <= v3 && last3;
        end
    end

    // ---------------- S5: activation, output register ----------------
    logic [PE*OB-1:0] act;

    if (N_THRES > 0) begin : g_thr
        localparam int TW = PE * N_THRES * ACC_BITS;
        logic [TW-1:0] trom [NF];
        initial $readmemh(THRESH_FILE, trom);
        logic [TAW-1:0] taddr;
        logic [TW-1:0] thr4;
        always_ff @(posedge clk) begin
            if (en && v3 && last3) thr4 <= trom[taddr];
        end
        always_ff @(posedge clk) begin
            if (!rst_n) taddr <= '0;
            else if (en && v3 && last3) taddr <= (taddr == TAW'(NF - 1)) ? '0 : taddr + 1'b1;
        end
        mbdsl_threshold #(
            .PE(PE), .ACC_BITS(ACC_BITS), .N_THRES(N_THRES), .OUT_BITS(OUT_BITS), .OUT_MIN(OUT_MIN)
        ) u_thr (
            .i_acc(acc4), .i_thr(thr4), .o_out(act)
        );
    end else begin : g_raw
        assign act = acc4;
    end

    always_ff @(posedge clk) begin
        if (en && done4) m_axis_tdata <= act;
    end

    always_ff @(posedge clk) begin
        if (!rst_n) m_axis_tvalid <= 1'b0;
        else if (en) m_axis_tvalid <= done4;
    end
endmodule
