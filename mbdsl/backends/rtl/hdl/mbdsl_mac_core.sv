// mbdsl_mac_core: the shared datapath of mbdsl_mvau and mbdsl_vvau.
//
// Each issued beat (i_valid, allowed while o_ready) is multiplied lane by lane with the
// next weight-ROM word, reduced over SIMD per PE lane, and accumulated over SF consecutive
// beats; after the SF-th beat the PE accumulators are thresholded (or passed raw if
// N_THRES == 0, or requantized with REQUANT) and sent on the output stream. Weight words are read in address order
// 0 .. NF*SF-1 (then wrap), threshold and bias words 0 .. NF-1. With HAS_BIAS, each
// accumulation starts at its row's bias instead of 0 (a classifier's logits acc + bias;
// ACC_BITS must hold the sum).
//
// The pipeline never stalls: every stage advances every cycle, carrying a valid bit, and
// its output beats go into a credit queue (mbdsl_credit_fifo) that absorbs backpressure.
// A beat that completes an accumulation is issued only with a credit, so the downstream
// ready reaches no pipeline register; o_ready depends on registers only.
//   S1 weight-memory read (registered, block-RAM friendly), input register
//   S2 ROM output register           S3 PE*SIMD products (4-bit digit products if wider)
//   adder trees, one register per level ($clog2(NT) stages, NT terms per PE lane)
//   ST tree output, bias-ROM read    SA accumulators, threshold-ROM read
//   SB threshold register            SC PE*N_THRES comparisons
//   popcount trees, one register per level ($clog2(N_THRES) stages), then the queue
// With REQUANT (N_THRES = 0), SB.. is mbdsl_requant instead: clip(round_shift((acc + bias)
// * m0, RQ_SHIFT)) in OUT_BITS, its constants ROM (RQ_FILE) read as the threshold ROM is.
//
// ROM formats: weight word = PE*SIMD*W_BITS bits, lane (p, s) at bit (p*SIMD + s)*W_BITS;
// threshold word = PE*N_THRES*ACC_BITS bits, lane (p, i) at bit (p*N_THRES + i)*ACC_BITS;
// bias word = PE*ACC_BITS bits, lane p at bit p*ACC_BITS.
// WMEM says where the weight words come from: 0, the weight ROM (WEIGHT_FILE); 1, UltraRAM
// ((* ram_style = "ultra" *)), which a bitstream cannot initialise: the words arrive through
// i_wen/i_waddr/i_wdata (from mbdsl_wload) before the first beat, and the read side is the
// ROM's; 2, the i_w input, the word of the beat issued with it (mbdsl_mvau_stream reads them
// from a stream in the ROM's address order), registered into S1 as the ROM's read is.
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
    parameter bit REQUANT   = 1'b0,   // multiplier-style activation (see mbdsl_requant)
    parameter int RQ_BIAS_BITS = 1,
    parameter int RQ_M0_BITS   = 1,
    parameter int RQ_PROD_BITS = 2,
    parameter int RQ_SHIFT     = 0,
    parameter RQ_FILE       = "",
    parameter int MULT      = 0,      // the products' mapping: MULT_* below
    parameter int PACK      = 1,      // MULT_PACKED, X_SHARED: lanes per multiply (mbdsl.backends.rtl.mult.packing)
    parameter int WMEM      = 0,      // where the weights live: 0 a ROM (WEIGHT_FILE), 1 UltraRAM written through i_wen, 2 streamed in on i_w
    localparam int XW = X_SHARED ? SIMD*IN_BITS : PE*SIMD*IN_BITS,
    localparam int NW  = NF * SF,
    localparam int WAW = (NW > 1) ? $clog2(NW) : 1,
    localparam int WW  = PE * SIMD * W_BITS,
    localparam int OB = (N_THRES == 0 && !REQUANT) ? ACC_BITS : OUT_BITS
) (
    input  logic            clk,
    input  logic            rst_n,
    input  logic            i_valid,
    input  logic [XW-1:0]   i_x,
    input  logic [PE*SIMD*W_BITS-1:0] i_w,   // WMEM 2: the issued beat's weight word
    output logic            o_ready,
    output logic [PE*OB-1:0] m_axis_tdata,
    output logic            m_axis_tvalid,
    input  logic            m_axis_tready,
    // WMEM 1: the weight memory's write port (registered by mbdsl_wload), used before the first beat
    /* verilator lint_off UNUSEDSIGNAL */   // unused unless WMEM 1
    input  logic            i_wen = 1'b0,
    input  logic [WAW-1:0]  i_waddr = '0,
    input  logic [WW-1:0]   i_wdata = '0
    /* verilator lint_on UNUSEDSIGNAL */
);
    localparam int TAW = (NF > 1) ? $clog2(NF) : 1;
    localparam int SFW = (SF > 1) ? $clog2(SF) : 1;
    localparam int PW  = IN_BITS + W_BITS + 2;   // a product, exact
    // Products (S3): MULT 0 (the default), 4-bit digit products that synthesis maps as its
    // options say (a DSP slice for every one of 9 or more bits unless -nodsp); MULT_LUT, the
    // same digits, each a sum of products of at most 8 bits, which synthesis never maps to a
    // DSP slice; MULT_DSP, one product per lane (one DSP slice); MULT_PACKED, NPK lanes that
    // share x (PE lanes of an MVAU) in one multiply (mbdsl_mul_packed, one DSP slice), or
    // without shared x (a VVAU) two lanes per multiply (mbdsl_mul_pair, one DSP slice).
    localparam int MULT_LUT = 1, MULT_DSP = 2, MULT_PACKED = 3;
    localparam bit WHOLE = (MULT == MULT_DSP) || (MULT == MULT_PACKED);
    localparam int DG  = 4;                      // multiplier digit (bits)
    localparam int DGX = WHOLE ? IN_BITS : DG;   // ... of x
    localparam int DGW = WHOLE ? W_BITS : DG;    // ... of w
    localparam int NDX = (IN_BITS + DGX - 1) / DGX;
    localparam int NDW = (W_BITS + DGW - 1) / DGW;
    localparam int NPP = NDX * NDW;              // digit products per lane
    localparam int NPK = (MULT == MULT_PACKED) ? PACK : 1;   // lanes per packed multiply
    localparam int NG  = (PE + NPK - 1) / NPK;               // packed multiplies per SIMD lane
    localparam bit PAIRS = (MULT == MULT_PACKED) && !X_SHARED;  // lane pairs (mbdsl_mul_pair)
    // adder-tree terms per PE lane: the lanes' digit products, or with PAIRS one dot product
    // per pair of SIMD lanes and the odd last lane's product
    localparam int NT  = PAIRS ? (SIMD + 1) / 2 : SIMD * NPP;
    localparam int CW  = $clog2(N_THRES + 1);    // a count of thresholds passed
    // issue to queue write: S1 S2 S3, tree levels, ST SA, then the activation: SB SC and
    // popcount levels, the requantization's stages, or SB SC of the raw accumulator
    localparam int TREE_LAT = (NT > 1) ? $clog2(NT) : 0;
    localparam int CNT_LAT  = (N_THRES > 1) ? $clog2(N_THRES) : 0;
    localparam int RQ_DIG   = (RQ_M0_BITS + 1) / 2;   // mbdsl_requant's partial products
    localparam int RQ_TERMS = RQ_DIG + ((RQ_SHIFT > 0) ? 1 : 0);
    localparam int ACT_LAT  = REQUANT ? 4 + ((RQ_TERMS > 1) ? $clog2(RQ_TERMS) : 0)
                            : (N_THRES > 0) ? 2 + CNT_LAT : 2;
    localparam int LATENCY  = 5 + TREE_LAT + ACT_LAT;

    // ---------------- issue: a beat that ends an accumulation needs a credit ----------------
    logic [SFW-1:0] sf;
    logic credit;
    wire ends = (sf == SFW'(SF - 1));
    assign o_ready = !ends || credit;
    wire reserve = i_valid && ends;

    // ---------------- S1: weight memory read (or the streamed word), input register ----------------
    logic [WW-1:0] w1, w2;
    logic [XW-1:0] x1, x2;
    logic v1, first1, last1, v2, first2, last2, v3, first3, last3;

    if (WMEM == 2) begin : g_wstream
        always_ff @(posedge clk) w1 <= i_w;
    end else begin : g_wmem
        // waddr1 is waddr's successor, kept in a register: no adder before the memory's address
        // (yosys may retime a ROM built from LUTs onto its next address)
        logic [WAW-1:0] waddr, waddr1;
        wire unused = &{1'b0, i_w};
        if (WMEM == 1) begin : g_wram
            // UltraRAM has no contents at configuration: the weights are written at run time
            (* ram_style = "ultra" *) logic [WW-1:0] wram [NW];
            always_ff @(posedge clk) begin
                if (i_wen) wram[i_waddr] <= i_wdata;
                w1 <= wram[waddr];
            end
        end else begin : g_wrom
            logic [WW-1:0] wrom [NW];
            initial $readmemh(WEIGHT_FILE, wrom);
            always_ff @(posedge clk) w1 <= wrom[waddr];
        end
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                waddr <= '0;
                waddr1 <= WAW'(NW > 1);
            end else if (i_valid) begin
                waddr <= waddr1;
                waddr1 <= (waddr1 == WAW'(NW - 1)) ? '0 : waddr1 + 1'b1;
            end
        end
    end

    always_ff @(posedge clk) begin
        x1 <= i_x;
        first1 <= (sf == '0);
        last1 <= ends;
        w2 <= w1;
        x2 <= x1;
        first2 <= first1;
        last2 <= last1;
        first3 <= first2;
        last3 <= last2;
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            sf <= '0;
            v1 <= 1'b0;
            v2 <= 1'b0;
            v3 <= 1'b0;
        end else begin
            v1 <= i_valid;
            v2 <= v1;
            v3 <= v2;
            if (i_valid) sf <= ends ? '0 : sf + 1'b1;
        end
    end

    // ---------------- S3: products ----------------
    logic [PE*NT*PW-1:0] prod3;
    if (PAIRS) begin : g_pairs
        // SIMD lanes 2j, 2j+1 of PE lane p (two kernel positions of one channel) are one
        // multiply giving their dot product, tree term j of p. With SIMD odd, the last SIMD
        // lanes of PE lanes 2q, 2q+1 are one multiply giving both products (their last
        // term), and with PE odd too the very last lane is a product alone.
        localparam int NPAIR = SIMD / 2;
        for (genvar p = 0; p < PE; p++) begin : g_pe
            for (genvar j = 0; j < NPAIR; j++) begin : g_dot
                localparam int L = p*SIMD + 2*j;
                logic [PW-1:0] pj;
                mbdsl_mul_pair #(.DOT(1'b1), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS), .W_SIGNED(W_SIGNED)) u_mul (
                    .i_x(x2[L*IN_BITS +: 2*IN_BITS]), .i_w(w2[L*W_BITS +: 2*W_BITS]), .o_p(pj)
                );
                always_ff @(posedge clk) prod3[(p*NT + j)*PW +: PW] <= pj;
            end
        end
        if (SIMD % 2 == 1) begin : g_odd
            for (genvar q = 0; q < PE / 2; q++) begin : g_two
                localparam int L0 = 2*q*SIMD + SIMD - 1, L1 = L0 + SIMD;
                logic [2*PW-1:0] pq;
                mbdsl_mul_pair #(.DOT(1'b0), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS), .W_SIGNED(W_SIGNED)) u_mul (
                    .i_x({x2[L1*IN_BITS +: IN_BITS], x2[L0*IN_BITS +: IN_BITS]}),
                    .i_w({w2[L1*W_BITS +: W_BITS], w2[L0*W_BITS +: W_BITS]}), .o_p(pq)
                );
                always_ff @(posedge clk) begin
                    prod3[(2*q*NT + NT - 1)*PW +: PW] <= pq[0 +: PW];
                    prod3[((2*q + 1)*NT + NT - 1)*PW +: PW] <= pq[PW +: PW];
                end
            end
            if (PE % 2 == 1) begin : g_lone
                localparam int L = PE*SIMD - 1;
                logic [PW-1:0] pl;
                mbdsl_mul_packed #(.N(1), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS), .W_SIGNED(W_SIGNED)) u_mul (
                    .i_x(x2[L*IN_BITS +: IN_BITS]), .i_w(w2[L*W_BITS +: W_BITS]), .o_p(pl)
                );
                always_ff @(posedge clk) prod3[(PE*NT - 1)*PW +: PW] <= pl;
            end
        end
    end else if (MULT == MULT_PACKED) begin : g_packed
        // x lane s is shared by the PE lanes (X_SHARED): PE lanes g*NPK .. g*NPK+NPK-1 of
        // SIMD lane s are one multiply; its products come out exact (mbdsl_mul_packed).
        for (genvar s = 0; s < SIMD; s++) begin : g_simd
            for (genvar g = 0; g < NG; g++) begin : g_grp
                localparam int N = (PE - g*NPK < NPK) ? PE - g*NPK : NPK;
                logic [N*W_BITS-1:0] wg;
                logic [N*PW-1:0] pg;
                for (genvar k = 0; k < N; k++) begin : g_w
                    assign wg[k*W_BITS +: W_BITS] = w2[((g*NPK + k)*SIMD + s)*W_BITS +: W_BITS];
                end
                mbdsl_mul_packed #(.N(N), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS), .W_SIGNED(W_SIGNED)) u_mul (
                    .i_x(x2[s*IN_BITS +: IN_BITS]), .i_w(wg), .o_p(pg)
                );
                for (genvar k = 0; k < N; k++) begin : g_p
                    always_ff @(posedge clk)
                        prod3[((g*NPK + k)*SIMD + s)*PW +: PW] <= pg[k*PW +: PW];
                end
            end
        end
    end else begin : g_lanes
    // A product of wide operands is the sum of its DG-bit digit products (the top digit of a
    // signed operand signed, the others unsigned), each a small LUT multiplier; the adder
    // tree sums them with the lanes, so no multiplier is wider than (DG+1) x (DG+1) bits.
    // Operands of at most DG bits (or MULT_DSP) give one product per lane, the plain x * w.
    for (genvar p = 0; p < PE; p++) begin : g_pe
        for (genvar s = 0; s < SIMD; s++) begin : g_simd
            localparam int XI = X_SHARED ? s : p*SIMD + s;
            logic [IN_BITS-1:0] xr;
            logic [W_BITS-1:0] wr;
            assign xr = x2[XI*IN_BITS +: IN_BITS];
            assign wr = w2[(p*SIMD + s)*W_BITS +: W_BITS];
            for (genvar i = 0; i < NDX; i++) begin : g_xd
                localparam int XB = (IN_BITS - i*DGX < DGX) ? IN_BITS - i*DGX : DGX;
                logic signed [XB:0] xd;
                if (MULT == MULT_DSP && IN_SIGNED) begin : g_xoffset
                    // x + 2^(IN_BITS-1) (x with its sign bit inverted) is unsigned, so the
                    // product keeps all its IN_BITS+1+W_BITS bits (4 x 4: 9, mapped to a DSP
                    // slice; a signed x * w has 8 and stays in LUTs); w * 2^(IN_BITS-1) is
                    // subtracted below
                    assign xd = $signed({1'b0, xr ^ IN_BITS'(1 << (IN_BITS - 1))});
                end else begin : g_xdigit
                    assign xd = $signed({(IN_SIGNED && i == NDX - 1) ? xr[IN_BITS-1] : 1'b0, xr[i*DGX +: XB]});
                end
                for (genvar j = 0; j < NDW; j++) begin : g_wd
                    localparam int WB = (W_BITS - j*DGW < DGW) ? W_BITS - j*DGW : DGW;
                    logic signed [WB:0] wd;
                    logic signed [XB+WB+1:0] pp;
                    assign wd = $signed({(W_SIGNED && j == NDW - 1) ? wr[W_BITS-1] : 1'b0, wr[j*DGW +: WB]});
                    if (MULT == MULT_LUT && WB > 2) begin : g_lut
                        // xd * wd as xd * (its top WB-1 bits, signed) * 4 + xd * (its low 2
                        // bits): each product at most 5 x 3 = 8 bits, below mul2dsp's 9
                        assign pp = ((xd * $signed(wd[WB:2])) <<< 2) + xd * $signed({1'b0, wd[1:0]});
                    end else if (MULT == MULT_DSP && IN_SIGNED) begin : g_offset
                        assign pp = xd * wd - ((XB+WB+2)'(wd) <<< (IN_BITS - 1));
                    end else begin : g_mul
                        assign pp = xd * wd;
                    end
                    always_ff @(posedge clk)
                        prod3[((p*SIMD + s)*NPP + i*NDW + j)*PW +: PW] <= PW'(pp) << (DGX*i + DGW*j);
                end
            end
        end
    end
    end

    // ---------------- adder trees, ST: tree output register ----------------
    logic [PE*ACC_BITS-1:0] sum_t, sumT;
    logic [2:0] tag_t;
    logic vT, firstT, lastT;

    mbdsl_addtree #(.LANES(PE), .N(NT), .W_IN(PW), .W(ACC_BITS), .TAG(3)) u_tree (
        .clk, .i_terms(prod3), .i_tag({v3, first3, last3}), .o_sum(sum_t), .o_tag(tag_t)
    );

    always_ff @(posedge clk) begin
        sumT <= sum_t;
        {firstT, lastT} <= tag_t[1:0];
    end
    always_ff @(posedge clk) begin
        if (!rst_n) vT <= 1'b0;
        else vT <= tag_t[2];
    end

    // the value each accumulation starts from: its row's bias, or 0
    logic [PE*ACC_BITS-1:0] startT;

    if (HAS_BIAS) begin : g_bias
        logic [PE*ACC_BITS-1:0] brom [NF];
        initial $readmemh(BIAS_FILE, brom);
        logic [TAW-1:0] baddr, baddr1;   // baddr1: baddr's successor, as waddr1
        wire bnext = tag_t[2] && tag_t[1];   // a first beat enters ST
        always_ff @(posedge clk) begin
            if (bnext) startT <= brom[baddr];
        end
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                baddr <= '0;
                baddr1 <= TAW'(NF > 1);
            end else if (bnext) begin
                baddr <= baddr1;
                baddr1 <= (baddr1 == TAW'(NF - 1)) ? '0 : baddr1 + 1'b1;
            end
        end
    end else begin : g_zero
        assign startT = '0;
    end

    // ---------------- SA: accumulate ----------------
    logic [PE*ACC_BITS-1:0] accA;
    logic doneA;

    for (genvar p = 0; p < PE; p++) begin : g_acc
        always_ff @(posedge clk) begin
            if (vT)
                accA[p*ACC_BITS +: ACC_BITS] <=
                    (firstT ? startT[p*ACC_BITS +: ACC_BITS] : accA[p*ACC_BITS +: ACC_BITS])
                    + sumT[p*ACC_BITS +: ACC_BITS];
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) doneA <= 1'b0;
        else doneA <= vT && lastT;
    end

    // ---------------- SB, SC, popcount: activation ----------------
    logic [PE*OB-1:0] act;
    logic act_valid;

    if (REQUANT) begin : g_rq
        mbdsl_requant #(
            .PE(PE), .NG(NF), .ACC_BITS(ACC_BITS), .BIAS_BITS(RQ_BIAS_BITS), .M0_BITS(RQ_M0_BITS),
            .PROD_BITS(RQ_PROD_BITS), .SHIFT(RQ_SHIFT), .OUT_BITS(OUT_BITS), .OUT_MIN(OUT_MIN),
            .RQ_FILE(RQ_FILE)
        ) u_rq (
            .clk, .rst_n, .i_read(vT && lastT), .i_valid(doneA), .i_acc(accA),
            .o_valid(act_valid), .o_q(act)
        );
    end else if (N_THRES > 0) begin : g_thr
        localparam int TW = PE * N_THRES * ACC_BITS;
        logic [TW-1:0] trom [NF];
        initial $readmemh(THRESH_FILE, trom);
        // taddr1: taddr's successor in a register, as waddr1
        logic [TAW-1:0] taddr, taddr1;
        logic [TW-1:0] thrA, thrB;
        logic [PE*ACC_BITS-1:0] accB;
        logic [PE*N_THRES*2-1:0] geC;
        logic doneB, doneC;
        logic [PE*(CW+1)-1:0] count;

        wire tnext = vT && lastT;   // an accumulation completes in SA
        always_ff @(posedge clk) begin
            if (tnext) thrA <= trom[taddr];
            thrB <= thrA;
            accB <= accA;
        end
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                taddr <= '0;
                taddr1 <= TAW'(NF > 1);
                doneB <= 1'b0;
                doneC <= 1'b0;
            end else begin
                if (tnext) begin
                    taddr <= taddr1;
                    taddr1 <= (taddr1 == TAW'(NF - 1)) ? '0 : taddr1 + 1'b1;
                end
                doneB <= doneA;
                doneC <= doneB;
            end
        end

        // lane p, threshold i: acc >= T[i], as a 2-bit signed 0 or 1 for the popcount tree
        for (genvar p = 0; p < PE; p++) begin : g_lane
            for (genvar i = 0; i < N_THRES; i++) begin : g_cmp
                always_ff @(posedge clk)
                    geC[(p*N_THRES + i)*2 +: 2] <= {1'b0,
                        $signed(accB[p*ACC_BITS +: ACC_BITS])
                            >= $signed(thrB[(p*N_THRES + i)*ACC_BITS +: ACC_BITS])};
            end
            assign act[p*OB +: OB] = OB'(OUT_MIN + int'(count[p*(CW+1) +: CW+1]));
        end

        mbdsl_addtree #(.LANES(PE), .N(N_THRES), .W_IN(2), .W(CW + 1), .TAG(1)) u_count (
            .clk, .i_terms(geC), .i_tag(doneC), .o_sum(count), .o_tag(act_valid)
        );
    end else begin : g_raw
        logic [PE*ACC_BITS-1:0] accB, accC;
        logic doneB, doneC;
        always_ff @(posedge clk) begin
            accB <= accA;
            accC <= accB;
        end
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                doneB <= 1'b0;
                doneC <= 1'b0;
            end else begin
                doneB <= doneA;
                doneC <= doneB;
            end
        end
        assign act = accC;
        assign act_valid = doneC;
    end

    // ---------------- output queue ----------------
    mbdsl_credit_fifo #(.WIDTH(PE*OB), .DEPTH(LATENCY + 3)) u_out (
        .clk, .rst_n,
        .i_reserve(reserve), .o_credit(credit),
        .i_valid(act_valid), .i_data(act),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );
endmodule
