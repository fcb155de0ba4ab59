// mbdsl_addtree: combinational balanced adder tree of N signed W-bit inputs.
//
// Nodes are kept in heap order (node i has children 2i+1 and 2i+2; the N leaves are nodes
// N-1 .. 2N-2), which gives a tree of depth ceil(log2 N) for any N. The sum wraps to W bits.
module mbdsl_addtree #(
    parameter int N = 4,
    parameter int W = 16
) (
    input  logic [N*W-1:0] i_terms,
    output logic [W-1:0]   o_sum
);
    logic [W-1:0] node [2*N-1] /* verilator split_var */;
    for (genvar i = 0; i < N; i++) begin : g_leaf
        assign node[N - 1 + i] = i_terms[i*W +: W];
    end
    for (genvar i = 0; i < N - 1; i++) begin : g_node
        assign node[i] = node[2*i + 1] + node[2*i + 2];
    end
    assign o_sum = node[0];
endmodule
