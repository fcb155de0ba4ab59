// mbdsl_mul_pair: two lanes that share no operand (x0 * w0, x1 * w1) in one multiply that
// yosys synth_xilinx (and Vivado) maps to one DSP48E2 (27 x 18 bits signed): the packing
// of mbdsl_vvau, whose lanes each multiply their own pixel by their own weight.
//
// The activations are placed S bits apart, X = x0 + x1 * 2^S, and so are the weights:
//   DOT = 1:  Wp = w1 + w0 * 2^S,  X * Wp = x0 w1 + (x0 w0 + x1 w1) 2^S + x1 w0 2^(2S),
//             the middle field is the dot product of the pair (two kernel positions of one
//             channel, which the adder tree sums anyway): one term out;
//   DOT = 0:  Wp = w0 + w1 * 2^S,  X * Wp = x0 w0 + (x0 w1 + x1 w0) 2^S + x1 w1 2^(2S),
//             the low and high fields are the two products (lanes of two channels): two terms.
// Field width: a product has |x w| < 2^(F-1), F = mbdsl_mul_packed's S (WE + XE - 1, + 1 if
// both are signed; XE, WE the signed widths of x and w); a sum of two has |.| <= 2^F - 2.
// With S = F + 1:
//   the low field L (a product) has |L| < 2^(S-2), so L is the signed value of P's low S
//   bits and bit S-1 is its sign; the middle field M (a sum of two) is then
//   signed(P[S +: S]) + P[S-1]: P[S +: S] is M - [L < 0] modulo 2^S, and M - 1 .. M lie
//   in -2^(S-1) .. 2^(S-1) - 1;
//   below the high field, R = L + M 2^S has |R| <= (2^(S-1) - 2) 2^S + 2^(S-2) < 2^(2S-1),
//   so the high field H (a product) is signed(P[2S +: S-1]) + P[2S-1] the same way (H - 1
//   still fits F = S - 1 bits, and P has 2S + F bits or more).
// Operands: X has S + XE bits and Wp S + WE, each one more if signed (a negative low value
// below the most negative high one: -2^(E-1) 2^S - 2^(E-1)); mbdsl.dsp48.pair_operand_bits,
// one must fit the 18-bit port, the other the 27-bit one (mbdsl.dsp48.pair_fits). For an
// unsigned x0 the sum X is a concatenation; a signed low operand costs an adder on the
// field above it.
module mbdsl_mul_pair #(
    parameter bit DOT       = 1'b1,
    parameter int IN_BITS   = 4,
    parameter bit IN_SIGNED = 1'b0,
    parameter int W_BITS    = 4,
    parameter bit W_SIGNED  = 1'b1,
    localparam int XE = IN_BITS + (IN_SIGNED ? 0 : 1),
    localparam int WE = W_BITS + (W_SIGNED ? 0 : 1),
    localparam int S  = WE + XE + ((IN_SIGNED && W_SIGNED) ? 1 : 0),
    localparam int PW = IN_BITS + W_BITS + 2,   // a term, as mbdsl_mac_core holds it
    localparam int NO = DOT ? 1 : 2             // terms out
) (
    input  logic [2*IN_BITS-1:0] i_x,   // x0 at bit 0, x1 at bit IN_BITS
    input  logic [2*W_BITS-1:0]  i_w,   // w0 at bit 0, w1 at bit W_BITS
    output logic [NO*PW-1:0]     o_p    // DOT: x0 w0 + x1 w1; else x0 w0 at bit 0, x1 w1 at bit PW
);
    localparam int XP = S + XE + (IN_SIGNED ? 1 : 0), WP = S + WE + (W_SIGNED ? 1 : 0);

    logic signed [XE-1:0] x0, x1;
    logic signed [WE-1:0] w0, w1, wlo, whi;
    assign x0 = XE'($signed({IN_SIGNED ? i_x[IN_BITS-1] : 1'b0, i_x[0 +: IN_BITS]}));
    assign x1 = XE'($signed({IN_SIGNED ? i_x[2*IN_BITS-1] : 1'b0, i_x[IN_BITS +: IN_BITS]}));
    assign w0 = WE'($signed({W_SIGNED ? i_w[W_BITS-1] : 1'b0, i_w[0 +: W_BITS]}));
    assign w1 = WE'($signed({W_SIGNED ? i_w[2*W_BITS-1] : 1'b0, i_w[W_BITS +: W_BITS]}));
    assign wlo = DOT ? w1 : w0;
    assign whi = DOT ? w0 : w1;

    logic signed [XP-1:0] xp;
    logic signed [WP-1:0] wp;
    logic signed [XP+WP-1:0] prod;
    assign xp = XP'(x0) + (XP'(x1) <<< S);
    assign wp = WP'(wlo) + (WP'(whi) <<< S);
    assign prod = xp * wp;

    if (DOT) begin : g_dot
        assign o_p = PW'($signed(prod[S +: S])) + PW'(prod[S-1]);
    end else begin : g_two
        assign o_p[0 +: PW]  = PW'($signed(prod[0 +: S]));
        assign o_p[PW +: PW] = PW'($signed(prod[2*S +: S-1])) + PW'(prod[2*S-1]);
    end
endmodule
