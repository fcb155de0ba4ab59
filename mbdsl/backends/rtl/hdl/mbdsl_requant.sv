// mbdsl_requant: the multiplier-style activation of PE lanes (semantics.requantize),
//   q = clip(round_shift((acc + bias) * m0, SHIFT), OUT_MIN, OUT_MIN + 2**OUT_BITS - 1),
// round_shift(x, s) = (x + 2**(s-1)) >> s (arithmetic; x itself when s == 0).
//
// Constants ROM (RQ_FILE, $readmemh): NG words, read in address order 0 .. NG-1 (then wrap),
// one per result; lane p at bit p*(BIAS_BITS + M0_BITS): bias in the low BIAS_BITS bits
// (signed), m0 above it (unsigned). i_read asks for the next word one cycle before the
// result it belongs to arrives on i_valid / i_acc, as the threshold ROM is read.
//
// Widths: acc + bias is exact in SUM_BITS = max(ACC_BITS, BIAS_BITS) + 1 bits; PROD_BITS
// must hold (acc + bias) * m0 + 2**(SHIFT-1) (the generator derives it from the layer's
// ranges). The product is the sum of the partial products of sum x (2-bit digit of m0):
// each one adder, registered, then summed with the rounding constant by a pipelined adder
// tree (mbdsl_addtree) in PROD_BITS-bit wrapping arithmetic, which is exact because the true
// result fits. Stages after i_valid: S1 sum and m0, S2 partial products, tree levels,
// S3 shifted value and its two clip flags, S4 the clipped code: o_valid follows i_valid by
// 4 + $clog2(NTERM) cycles (4 if NTERM == 1), NTERM = ceil(M0_BITS / 2) + (SHIFT > 0).
module mbdsl_requant #(
    parameter int PE        = 1,
    parameter int NG        = 1,
    parameter int ACC_BITS  = 16,
    parameter int BIAS_BITS = 16,
    parameter int M0_BITS   = 8,
    parameter int PROD_BITS = 32,
    parameter int SHIFT     = 8,
    parameter int OUT_BITS  = 8,
    parameter int OUT_MIN   = 0,
    parameter RQ_FILE       = "",
    localparam int DG       = 2,                              // multiplier digit (bits)
    localparam int NDIG     = (M0_BITS + DG - 1) / DG,
    localparam int NTERM    = NDIG + ((SHIFT > 0) ? 1 : 0)   // partial products, rounding
) (
    input  logic                   clk,
    input  logic                   rst_n,
    input  logic                   i_read,
    input  logic                   i_valid,
    input  logic [PE*ACC_BITS-1:0] i_acc,
    output logic                   o_valid,
    output logic [PE*OUT_BITS-1:0] o_q
);
    localparam int LW  = BIAS_BITS + M0_BITS;
    localparam int GAW = (NG > 1) ? $clog2(NG) : 1;
    localparam int SUM_BITS = ((ACC_BITS > BIAS_BITS) ? ACC_BITS : BIAS_BITS) + 1;
    localparam int YW  = PROD_BITS - SHIFT;                   // the shifted product
    localparam int OUT_MAX = OUT_MIN + (1 << OUT_BITS) - 1;
    localparam int CW  = ((YW > OUT_BITS) ? YW : OUT_BITS) + 2;   // compares y with the bounds

    // ---------------- constants ROM, read with the result's arrival ----------------
    logic [PE*LW-1:0] rom [NG];
    initial $readmemh(RQ_FILE, rom);
    logic [GAW-1:0] gaddr;
    logic [PE*LW-1:0] k0;
    always_ff @(posedge clk) begin
        if (i_read) k0 <= rom[gaddr];
    end
    always_ff @(posedge clk) begin
        if (!rst_n) gaddr <= '0;
        else if (i_read) gaddr <= (gaddr == GAW'(NG - 1)) ? '0 : gaddr + 1'b1;
    end

    // ---------------- S1: acc + bias, m0 ----------------
    logic [PE*SUM_BITS-1:0] sum1;
    logic [PE*M0_BITS-1:0] m01;
    logic v1, v2;
    for (genvar p = 0; p < PE; p++) begin : g_sum
        always_ff @(posedge clk) begin
            sum1[p*SUM_BITS +: SUM_BITS] <= SUM_BITS'($signed(i_acc[p*ACC_BITS +: ACC_BITS]))
                                          + SUM_BITS'($signed(k0[p*LW +: BIAS_BITS]));
            m01[p*M0_BITS +: M0_BITS] <= k0[p*LW + BIAS_BITS +: M0_BITS];
        end
    end

    // ---------------- S2: partial products sum * digit << (DG*j), and the rounding term ----
    logic [PE*NTERM*PROD_BITS-1:0] terms2;
    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic signed [SUM_BITS-1:0] s;
        assign s = $signed(sum1[p*SUM_BITS +: SUM_BITS]);
        for (genvar j = 0; j < NDIG; j++) begin : g_digit
            localparam int DB = (M0_BITS - j*DG < DG) ? M0_BITS - j*DG : DG;
            logic signed [DB:0] d;   // the digit, unsigned, as a signed operand
            assign d = $signed({1'b0, m01[p*M0_BITS + j*DG +: DB]});
            always_ff @(posedge clk)
                terms2[(p*NTERM + j)*PROD_BITS +: PROD_BITS] <= PROD_BITS'(s * d) << (DG*j);
        end
        if (SHIFT > 0) begin : g_round
            assign terms2[(p*NTERM + NDIG)*PROD_BITS +: PROD_BITS] = PROD_BITS'(64'(1) << (SHIFT - 1));
        end
    end
    always_ff @(posedge clk) begin
        if (!rst_n) {v1, v2} <= '0;
        else {v1, v2} <= {i_valid, v1};
    end

    // ---------------- product tree ----------------
    logic [PE*PROD_BITS-1:0] prod;
    logic vP;
    mbdsl_addtree #(.LANES(PE), .N(NTERM), .W_IN(PROD_BITS), .W(PROD_BITS), .TAG(1)) u_tree (
        .clk, .i_terms(terms2), .i_tag(v2), .o_sum(prod), .o_tag(vP)
    );

    // ---------------- S3: shift, clip flags; S4: the code ----------------
    logic [PE*OUT_BITS-1:0] low3;
    logic [PE-1:0] hi3, lo3;
    logic v3;
    for (genvar p = 0; p < PE; p++) begin : g_clip
        logic signed [YW-1:0] y;
        assign y = $signed(prod[p*PROD_BITS + SHIFT +: YW]);
        if (SHIFT > 0) begin : g_dropped   // the bits below the rounding point
            wire unused = &{1'b0, prod[p*PROD_BITS +: SHIFT]};
        end
        always_ff @(posedge clk) begin
            hi3[p] <= $signed(CW'(y)) > $signed(CW'(OUT_MAX));
            lo3[p] <= $signed(CW'(y)) < $signed(CW'(OUT_MIN));
            low3[p*OUT_BITS +: OUT_BITS] <= OUT_BITS'(y);
        end
        always_ff @(posedge clk)
            o_q[p*OUT_BITS +: OUT_BITS] <= hi3[p] ? OUT_BITS'(OUT_MAX)
                                         : lo3[p] ? OUT_BITS'(OUT_MIN) : low3[p*OUT_BITS +: OUT_BITS];
    end
    always_ff @(posedge clk) begin
        if (!rst_n) {v3, o_valid} <= '0;
        else {v3, o_valid} <= {vP, v3};
    end
endmodule
