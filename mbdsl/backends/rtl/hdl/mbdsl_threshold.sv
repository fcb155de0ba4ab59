// mbdsl_threshold: PE lanes of multi-threshold activation (combinational).
//
// Lane p compares its signed ACC_BITS accumulator with N_THRES signed ACC_BITS thresholds
// (lane p, threshold i at bit offset (p*N_THRES + i)*ACC_BITS of i_thr) and outputs
// OUT_MIN + #{i : acc >= T[i]} in OUT_BITS bits (two's complement). The thresholds need
// not be sorted for this count; the caller registers the result.
module mbdsl_threshold #(
    parameter int PE       = 1,
    parameter int ACC_BITS = 16,
    parameter int N_THRES  = 15,
    parameter int OUT_BITS = 4,
    parameter int OUT_MIN  = 0
) (
    input  logic [PE*ACC_BITS-1:0]         i_acc,
    input  logic [PE*N_THRES*ACC_BITS-1:0] i_thr,
    output logic [PE*OUT_BITS-1:0]         o_out
);
    localparam int CW = $clog2(N_THRES + 1);

    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic signed [ACC_BITS-1:0] acc;
        logic [N_THRES-1:0] ge;
        logic [CW-1:0] count;
        assign acc = $signed(i_acc[p*ACC_BITS +: ACC_BITS]);
        for (genvar i = 0; i < N_THRES; i++) begin : g_cmp
            assign ge[i] = acc >= $signed(i_thr[(p*N_THRES + i)*ACC_BITS +: ACC_BITS]);
        end
        always_comb begin
            count = '0;
            for (int i = 0; i < N_THRES; i++) count = count + CW'(ge[i]);
        end
        assign o_out[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(OUT_MIN + int'(count));
    end
endmodule
