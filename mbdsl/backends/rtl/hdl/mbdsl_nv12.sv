// mbdsl_nv12: NV12 -> RGB front end for a W x H image (W, H even).
//
// Input, one byte per beat, for each pair of rows: the interleaved UV row (W bytes:
// U0 V0 U1 V1 ...), then Y row 2i, then Y row 2i+1. Output: one RGB pixel per Y byte
// (R in bits 7:0, G 15:8, B 23:16), row-major, equal to semantics.nv12_to_rgb
// (integer BT.601 limited range). The pipeline never stalls: S1 UV lookup, S2 products,
// S3 sums, S4 clip, then a credit queue (mbdsl_credit_fifo) that absorbs output
// backpressure; a Y byte is taken only with a credit, a UV byte always.
module mbdsl_nv12 #(
    parameter int W = 4,
    parameter int H = 2
) (
    input  logic        clk,
    input  logic        rst_n,
    input  logic [7:0]  s_axis_tdata,
    input  logic        s_axis_tvalid,
    output logic        s_axis_tready,
    output logic [23:0] m_axis_tdata,
    output logic        m_axis_tvalid,
    input  logic        m_axis_tready
);
    localparam int CW = $clog2(W);
    localparam int HW = (W > 2) ? $clog2(W / 2) : 1;
    // H documents the frame; the unit is frame-agnostic (it only counts row triplets)
    wire unused_h = H[0];

    logic [7:0] umem [W/2];
    logic [7:0] vmem [W/2];
    logic [1:0] phase;   // 0: UV row, 1: Y row 2i, 2: Y row 2i+1
    logic [CW-1:0] col;

    logic credit;
    wire is_uv = (phase == 2'd0);
    assign s_axis_tready = is_uv || credit;
    wire take = s_axis_tvalid && s_axis_tready;
    wire reserve = take && !is_uv;
    wire [HW-1:0] pair = HW'(col >> 1);

    always_ff @(posedge clk) begin
        if (take && is_uv && !col[0]) umem[pair] <= s_axis_tdata;
        if (take && is_uv && col[0]) vmem[pair] <= s_axis_tdata;
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            phase <= 2'd0;
            col <= '0;
        end else if (take) begin
            if (col == CW'(W - 1)) begin
                col <= '0;
                phase <= (phase == 2'd2) ? 2'd0 : phase + 2'd1;
            end else begin
                col <= col + 1'b1;
            end
        end
    end

    // S1: Y with its U, V
    logic v1, v2, v3, v4;
    logic [7:0] y1, u1, vv1;
    always_ff @(posedge clk) begin
        if (!rst_n) {v1, v2, v3, v4} <= '0;
        else {v1, v2, v3, v4} <= {reserve, v1, v2, v3};
    end
    always_ff @(posedge clk) begin
        y1 <= s_axis_tdata;
        u1 <= umem[pair];
        vv1 <= vmem[pair];
    end

    // S2: products; S3: sums; S4: clip to 0..255
    function automatic logic [7:0] clip8(input logic signed [19:0] t);
        logic signed [19:0] s;
        s = t >>> 8;
        if (s < 0) clip8 = 8'd0;
        else if (s > 20'sd255) clip8 = 8'd255;
        else clip8 = s[7:0];
    endfunction

    logic signed [19:0] dd, ee, cy2, rv2, gu2, gv2, bu2, r3, g3, b3;
    logic [23:0] rgb4;
    assign dd = $signed({12'd0, u1}) - 20'sd128;
    assign ee = $signed({12'd0, vv1}) - 20'sd128;
    always_ff @(posedge clk) begin
        cy2 <= 20'(298) * ($signed({12'd0, y1}) - 20'sd16);
        rv2 <= 20'sd409 * ee;
        gu2 <= 20'sd100 * dd;
        gv2 <= 20'sd208 * ee;
        bu2 <= 20'sd516 * dd;
        r3 <= cy2 + rv2 + 20'sd128;
        g3 <= cy2 - gu2 - gv2 + 20'sd128;
        b3 <= cy2 + bu2 + 20'sd128;
        rgb4 <= {clip8(b3), clip8(g3), clip8(r3)};
    end

    mbdsl_credit_fifo #(.WIDTH(24), .DEPTH(8)) u_out (
        .clk, .rst_n,
        .i_reserve(reserve), .o_credit(credit),
        .i_valid(v4), .i_data(rgb4),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );
endmodule
