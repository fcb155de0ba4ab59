// mbdsl_pool: global sum / average pool over N_PIX pixels, C channels, PE lanes.
//
// Input per frame: N_PIX pixels, each C/PE beats of PE unsigned IN_BITS elements
// (channel order). After the frame's last pixel, output C/PE beats of PE elements:
// min(sum >> SHIFT, 2**OUT_BITS - 1) (semantics.truncate_shift with an unsigned type),
// sum in SUM_BITS bits. The results are registered, then go through a credit queue
// (mbdsl_credit_fifo) of max(2, C/PE) + 2 words, so the next frame streams in at one beat
// per cycle while they drain, and s_axis_tready depends on registers only.
module mbdsl_pool #(
    parameter int C        = 8,
    parameter int PE       = 1,
    parameter int N_PIX    = 4,
    parameter int IN_BITS  = 4,
    parameter int SUM_BITS = 10,
    parameter int SHIFT    = 2,
    parameter int OUT_BITS = 4
) (
    input  logic                     clk,
    input  logic                     rst_n,
    input  logic [PE*IN_BITS-1:0]    s_axis_tdata,
    input  logic                     s_axis_tvalid,
    output logic                     s_axis_tready,
    output logic [PE*OUT_BITS-1:0]   m_axis_tdata,
    output logic                     m_axis_tvalid,
    input  logic                     m_axis_tready
);
    localparam int CG  = C / PE;
    localparam int GW  = (CG > 1) ? $clog2(CG) : 1;
    localparam int PXW = (N_PIX > 1) ? $clog2(N_PIX) : 1;
    localparam int FD  = ((CG > 2) ? CG : 2) + 2;
    localparam logic [SUM_BITS-1:0] OMAX = SUM_BITS'((64'(1) << OUT_BITS) - 64'(1));

    logic [GW-1:0] g;
    logic [PXW-1:0] pix;
    logic [PE*SUM_BITS-1:0] acc [CG];
    logic [PE*OUT_BITS-1:0] res, res_q;
    logic res_v, credit;

    wire first = (pix == '0);
    wire last  = (pix == PXW'(N_PIX - 1));
    assign s_axis_tready = !last || credit;
    wire take = s_axis_tvalid && s_axis_tready;

    always_ff @(posedge clk) res_q <= res;
    always_ff @(posedge clk) begin
        if (!rst_n) res_v <= 1'b0;
        else res_v <= take && last;
    end

    for (genvar p = 0; p < PE; p++) begin : g_lane
        logic [SUM_BITS-1:0] sum;
        assign sum = (first ? '0 : acc[g][p*SUM_BITS +: SUM_BITS])
                   + SUM_BITS'(s_axis_tdata[p*IN_BITS +: IN_BITS]);
        if (SUM_BITS - SHIFT > OUT_BITS) begin : g_clamp
            logic [SUM_BITS-1:0] shifted;
            assign shifted = sum >> SHIFT;
            assign res[p*OUT_BITS +: OUT_BITS] = OUT_BITS'((shifted > OMAX) ? OMAX : shifted);
        end else begin : g_fits  // the shifted sum fits OUT_BITS: no clamp
            assign res[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(sum >> SHIFT);
        end
        always_ff @(posedge clk) begin
            if (take) acc[g][p*SUM_BITS +: SUM_BITS] <= sum;
        end
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            g <= '0;
            pix <= '0;
        end else if (take) begin
            if (g == GW'(CG - 1)) begin
                g <= '0;
                pix <= last ? '0 : pix + 1'b1;
            end else begin
                g <= g + 1'b1;
            end
        end
    end

    mbdsl_credit_fifo #(.WIDTH(PE*OUT_BITS), .DEPTH(FD)) u_out (
        .clk, .rst_n,
        .i_reserve(take && last), .o_credit(credit),
        .i_valid(res_v), .i_data(res_q),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );
endmodule
