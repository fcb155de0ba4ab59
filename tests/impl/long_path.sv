// Test-only design for tests/test_rtl_impl.py: a short registered path (a counter) beside a
// deliberately long combinational one (a chain of adders and a multiplier between two
// registers), so place and route must name u_long as the critical path.
module long_path_chain #(parameter int W = 16, parameter int N = 6) (
    input  logic         clk,
    input  logic [W-1:0] a,
    input  logic [W-1:0] b,
    output logic [W-1:0] y
);
    logic [W-1:0] ra, rb;
    logic [W-1:0] stage [N+1];
    always_comb begin
        stage[0] = ra * rb;
        for (int i = 0; i < N; i++)
            stage[i + 1] = (stage[i] ^ {stage[i][W-2:0], stage[i][W-1]}) + ra;
    end
    always_ff @(posedge clk) begin
        ra <= a;
        rb <= b;
        y  <= stage[N];
    end
endmodule

module long_path_top (
    input  logic        clk,
    input  logic [15:0] a,
    input  logic [15:0] b,
    output logic [15:0] y,
    output logic [7:0]  count
);
    long_path_chain #(.W(16), .N(6)) u_long (.clk(clk), .a(a), .b(b), .y(y));
    always_ff @(posedge clk) count <= count + 8'd1;
endmodule
