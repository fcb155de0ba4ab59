// mbdsl_mul_packed: N products w[k] * x that share the operand x, made by one multiply
// that yosys synth_xilinx (and Vivado) maps to one DSP48E2 (a 27 x 18-bit signed multiplier).
//
// The weights are packed into one operand at fields S bits apart, A = sum_k w[k] * 2^(k*S),
// so P = A * x = sum_k p_k * 2^(k*S) with p_k = w[k] * x (the technique of Xilinx WP487).
// Field width S (signed w and x as WE and XE bits signed, XE = IN_BITS + 1 for unsigned x):
// S = WE + XE - 1 holds every product unless both operands are signed, S = WE + XE then;
// |p_k| < 2^(S-1) either way. Hence the sum of the fields below field k,
// R_k = sum_{j<k} p_j 2^(j*S), has |R_k| < 2^(k*S-1) (each |p_j| <= 2^(S-1) - 1, and
// (2^(S-1) - 1) / (2^S - 1) < 1/2): R_k is the two's-complement value of P's low k*S bits,
// and P's field k holds p_k - 1 exactly when R_k < 0, that is when bit k*S-1 of P is set.
// So every product comes out exact:
//     p_0 = signed(P[S-1:0]),   p_k = signed(P[k*S +: S]) + P[k*S-1]   (k > 0),
// the "borrow correction" of the signed lower field. mbdsl.backends.rtl.mult has the same
// rule in Python (packing factor, field width) and tests prove it on every operand pair.
module mbdsl_mul_packed #(
    parameter int N         = 2,      // products (at most mbdsl.backends.rtl.mult.packing(...))
    parameter int IN_BITS   = 4,
    parameter bit IN_SIGNED = 1'b0,
    parameter int W_BITS    = 4,
    parameter bit W_SIGNED  = 1'b1,
    localparam int XE = IN_BITS + (IN_SIGNED ? 0 : 1),
    localparam int WE = W_BITS + (W_SIGNED ? 0 : 1),
    localparam int S  = WE + XE - 1 + ((IN_SIGNED && W_SIGNED) ? 1 : 0),
    localparam int PW = IN_BITS + W_BITS + 2   // a product, as mbdsl_mac_core holds it
) (
    input  logic [IN_BITS-1:0]  i_x,
    input  logic [N*W_BITS-1:0] i_w,
    output logic [N*PW-1:0]     o_p    // product k at bit k*PW, PW bits signed
);
    // the packed operand (<= 27 bits for one DSP48E2): the top weight's field, plus a bit
    // for the carry or borrow of the fields below it
    localparam int AW = (N - 1) * S + WE + (N > 1 ? 1 : 0);

    logic signed [XE-1:0] xs;
    logic signed [AW-1:0] a;
    logic signed [AW+XE-1:0] prod;
    assign xs = XE'($signed({IN_SIGNED ? i_x[IN_BITS-1] : 1'b0, i_x}));

    logic signed [AW-1:0] wk [N];   // w[k] * 2^(k*S)
    for (genvar k = 0; k < N; k++) begin : g_w
        assign wk[k] = AW'($signed({W_SIGNED ? i_w[k*W_BITS + W_BITS-1] : 1'b0, i_w[k*W_BITS +: W_BITS]})) <<< (k*S);
    end
    always_comb begin
        a = '0;
        for (int k = 0; k < N; k++) a = a + wk[k];
    end
    assign prod = a * xs;

    for (genvar k = 0; k < N; k++) begin : g_field
        if (N == 1) begin : g_whole
            // the whole product (all its bits used, so synthesis maps it as it is: a DSP
            // slice from 9 bits, mul2dsp's threshold)
            assign o_p[0 +: PW] = PW'(prod);
        end else if (k == 0) begin : g_low
            assign o_p[0 +: PW] = PW'($signed(prod[0 +: S]));
        end else begin : g_borrow
            assign o_p[k*PW +: PW] = PW'($signed(prod[k*S +: S])) + PW'(prod[k*S-1]);
        end
    end
endmodule
