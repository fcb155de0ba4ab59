// mbdsl_addtree: LANES pipelined adder trees of N signed W_IN-bit terms each, registered
// after every level.
//
// Level l (1 .. LEVELS = $clog2(N)) holds ceil(N / 2**l) nodes: node j is the sum of nodes
// 2j and 2j+1 of level l-1 (or node 2j alone at the odd end). A level-l node sums at most
// 2**l terms, so it is exact in W_IN + l bits; o_sum is the root sign-extended or wrapped
// to W bits (two's complement, so it equals the W-bit wrapped sum of the terms). Every
// level is one register stage: o_sum and o_tag follow i_terms and i_tag by LEVELS cycles
// (0 when N == 1, a wire). The pipeline runs every cycle; i_tag carries the valid and
// framing bits of the beat alongside.
module mbdsl_addtree #(
    parameter int LANES = 1,
    parameter int N     = 4,
    parameter int W_IN  = 8,
    parameter int W     = 16,
    parameter int TAG   = 1
) (
    input  logic                    clk,
    input  logic [LANES*N*W_IN-1:0] i_terms,
    input  logic [TAG-1:0]          i_tag,
    output logic [LANES*W-1:0]      o_sum,
    output logic [TAG-1:0]          o_tag
);
    localparam int LEVELS = (N > 1) ? $clog2(N) : 0;

    // nodes at level l, and the bit offset of level l within a lane's node vector
    function automatic int nodes(input int l);
        nodes = N;
        for (int i = 0; i < l; i = i + 1) nodes = (nodes + 1) / 2;
    endfunction
    function automatic int offset(input int l);
        offset = 0;
        for (int i = 1; i < l; i = i + 1) offset = offset + nodes(i) * (W_IN + i);
    endfunction
    localparam int NODE_BITS = offset(LEVELS + 1);

    if (LEVELS == 0) begin : g_wire
        for (genvar k = 0; k < LANES; k++) begin : g_lane
            assign o_sum[k*W +: W] = W'($signed(i_terms[k*W_IN +: W_IN]));
        end
        assign o_tag = i_tag;
        wire unused = &{1'b0, clk};
    end else begin : g_tree
        for (genvar k = 0; k < LANES; k++) begin : g_lane
            logic [NODE_BITS-1:0] t;   // levels 1 .. LEVELS, node j of level l at offset(l) + j*(W_IN + l)
            for (genvar l = 1; l <= LEVELS; l++) begin : g_level
                localparam int WL = W_IN + l;   // width of this level's nodes
                localparam int WC = WL - 1;     // width of its children
                for (genvar j = 0; j < nodes(l); j++) begin : g_node
                    logic signed [WC-1:0] a, b;
                    if (l == 1) begin : g_leaves
                        assign a = $signed(i_terms[(k*N + 2*j)*W_IN +: W_IN]);
                        if (2*j + 1 < N) begin : g_pair
                            assign b = $signed(i_terms[(k*N + 2*j + 1)*W_IN +: W_IN]);
                        end else begin : g_odd
                            assign b = '0;
                        end
                    end else begin : g_inner
                        assign a = $signed(t[offset(l - 1) + 2*j*WC +: WC]);
                        if (2*j + 1 < nodes(l - 1)) begin : g_pair
                            assign b = $signed(t[offset(l - 1) + (2*j + 1)*WC +: WC]);
                        end else begin : g_odd
                            assign b = '0;
                        end
                    end
                    always_ff @(posedge clk) t[offset(l) + j*WL +: WL] <= WL'(a) + WL'(b);
                end
            end
            assign o_sum[k*W +: W] = W'($signed(t[offset(LEVELS) +: W_IN + LEVELS]));
        end

        logic [LEVELS*TAG-1:0] tags;   // a shift register, one TAG per level
        if (LEVELS == 1) begin : g_one
            always_ff @(posedge clk) tags <= i_tag;
        end else begin : g_shift
            always_ff @(posedge clk) tags <= {tags[(LEVELS-1)*TAG-1:0], i_tag};
        end
        assign o_tag = tags[LEVELS*TAG-1 -: TAG];
    end
endmodule
