// mbdsl_topk: label select. Input per frame: N signed IN_BITS values, one per beat (index =
// arrival order). Output per frame: K beats, the indices (IDX_BITS = max(1, clog2 N)) of the
// K largest values, largest first, ties to the lower index (= semantics.topk).
// A sorted list of K (value, index) entries takes one insertion per cycle; at the frame's
// last value the list is copied to an output bank and drained while the next frame
// streams in (input stalls only if the previous result is still draining at that point).
// s_axis_tready depends on registers only.
module mbdsl_topk #(
    parameter int N       = 10,
    parameter int IN_BITS = 8,
    parameter int K       = 5,
    localparam int IDX_BITS = (N > 2) ? $clog2(N) : 1
) (
    input  logic                clk,
    input  logic                rst_n,
    input  logic [IN_BITS-1:0]  s_axis_tdata,
    input  logic                s_axis_tvalid,
    output logic                s_axis_tready,
    output logic [IDX_BITS-1:0] m_axis_tdata,
    output logic                m_axis_tvalid,
    input  logic                m_axis_tready
);
    localparam int KW = (K > 1) ? $clog2(K) : 1;

    logic [IDX_BITS-1:0] idx;
    logic signed [IN_BITS-1:0] val [K];
    logic [IDX_BITS-1:0] vidx [K];
    logic [K-1:0] occ;
    logic [IDX_BITS-1:0] oidx [K];
    logic [KW-1:0] ocnt;
    logic obusy;

    wire last = (idx == IDX_BITS'(N - 1));
    assign s_axis_tready = !last || !obusy;
    wire take = s_axis_tvalid && s_axis_tready;
    wire signed [IN_BITS-1:0] x = $signed(s_axis_tdata);

    // entry i stays ahead of the new value if it is occupied and >= it (earlier index wins ties)
    logic [K-1:0] keep;
    for (genvar i = 0; i < K; i++) begin : g_cmp
        assign keep[i] = occ[i] && (val[i] >= x);
    end

    // new list after inserting x (keep is a prefix mask because the list is sorted)
    logic signed [IN_BITS-1:0] nval [K];
    logic [IDX_BITS-1:0] nidx [K];
    logic [K-1:0] nocc;
    for (genvar i = 0; i < K; i++) begin : g_ins
        if (i == 0) begin : g_first
            assign nval[i] = keep[i] ? val[i] : x;
            assign nidx[i] = keep[i] ? vidx[i] : idx;
            assign nocc[i] = 1'b1;
        end else begin : g_rest
            assign nval[i] = keep[i] ? val[i] : (keep[i-1] ? x : val[i-1]);
            assign nidx[i] = keep[i] ? vidx[i] : (keep[i-1] ? idx : vidx[i-1]);
            assign nocc[i] = keep[i] || keep[i-1] || occ[i-1];
        end
    end

    always_ff @(posedge clk) begin
        for (int i = 0; i < K; i++) begin
            if (take) begin
                val[i] <= nval[i];
                vidx[i] <= nidx[i];
            end
            if (take && last) oidx[i] <= nidx[i];
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            idx <= '0;
            occ <= '0;
            obusy <= 1'b0;
            ocnt <= '0;
        end else begin
            if (take) begin
                idx <= last ? '0 : idx + 1'b1;
                occ <= last ? '0 : nocc;
            end
            if (m_axis_tvalid && m_axis_tready) begin
                ocnt <= (ocnt == KW'(K - 1)) ? '0 : ocnt + 1'b1;
                if (ocnt == KW'(K - 1)) obusy <= 1'b0;
            end
            if (take && last) obusy <= 1'b1;
        end
    end

    assign m_axis_tvalid = obusy;
    assign m_axis_tdata = oidx[ocnt];
endmodule
