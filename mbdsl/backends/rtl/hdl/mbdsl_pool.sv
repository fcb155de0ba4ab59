// mbdsl_pool: global sum / average pool over N_PIX pixels, C channels, PE lanes.
//
// Input per frame: N_PIX pixels, each C/PE beats of PE unsigned IN_BITS elements
// (channel order). After the frame's last pixel, output C/PE beats of PE elements:
// min(sum >> SHIFT, 2**OUT_BITS - 1) (semantics.truncate_shift with an unsigned type),
// sum in SUM_BITS bits. With three or more channel groups (CG = C/PE) the accumulators live
// in a RAM read through two registers (block RAM, LUT RAM), added a stage later and written
// back (a group's next beat comes at least three beats later, so no read sees a stale
// value); with one or two they are registers. The results are registered, then go through a credit queue
// (mbdsl_credit_fifo) of max(2, C/PE) + 6 words, so the next frame streams in at one beat
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
    localparam int FD  = ((CG > 2) ? CG : 2) + 6;   // the results of a frame, and the pipeline's round trip
    localparam logic [SUM_BITS-1:0] OMAX = SUM_BITS'((64'(1) << OUT_BITS) - 64'(1));

    logic [GW-1:0] g;
    logic [PXW-1:0] pix;
    logic [PE*OUT_BITS-1:0] res, res_q;
    logic res_v, credit;

    wire first = (pix == '0);
    wire last  = (pix == PXW'(N_PIX - 1));
    assign s_axis_tready = !last || credit;
    wire take = s_axis_tvalid && s_axis_tready;

    // the beat being added: its input, the accumulators it adds to, and where they go
    logic [PE*IN_BITS-1:0] x_add;
    logic [PE*SUM_BITS-1:0] acc_add, sum;
    logic first_add, last_add, v_add;

    if (CG >= 3) begin : g_ram
        logic [PE*SUM_BITS-1:0] acc [CG];
        logic [PE*SUM_BITS-1:0] rdA;
        logic [PE*IN_BITS-1:0] xA;
        logic [GW-1:0] gA, gB;
        logic firstA, lastA, vA;
        always_ff @(posedge clk) begin
            rdA <= acc[g];
            {xA, gA, firstA, lastA} <= {s_axis_tdata, g, first, last};
            {acc_add, x_add, gB, first_add, last_add} <= {rdA, xA, gA, firstA, lastA};
            if (v_add) acc[gB] <= sum;
        end
        always_ff @(posedge clk) begin
            if (!rst_n) {vA, v_add} <= '0;
            else {vA, v_add} <= {take, vA};
        end
    end else begin : g_regs
        logic [PE*SUM_BITS-1:0] acc [CG];
        assign acc_add = acc[g];
        assign {x_add, first_add, last_add, v_add} = {s_axis_tdata, first, last, take};
        always_ff @(posedge clk) begin
            if (take) acc[g] <= sum;
        end
    end

    always_ff @(posedge clk) res_q <= res;
    always_ff @(posedge clk) begin
        if (!rst_n) res_v <= 1'b0;
        else res_v <= v_add && last_add;
    end

    for (genvar p = 0; p < PE; p++) begin : g_lane
        assign sum[p*SUM_BITS +: SUM_BITS] = (first_add ? '0 : acc_add[p*SUM_BITS +: SUM_BITS])
                                           + SUM_BITS'(x_add[p*IN_BITS +: IN_BITS]);
        if (SUM_BITS - SHIFT > OUT_BITS) begin : g_clamp
            logic [SUM_BITS-1:0] shifted;
            assign shifted = sum[p*SUM_BITS +: SUM_BITS] >> SHIFT;
            assign res[p*OUT_BITS +: OUT_BITS] = OUT_BITS'((shifted > OMAX) ? OMAX : shifted);
        end else begin : g_fits  // the shifted sum fits OUT_BITS: no clamp
            assign res[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(sum[p*SUM_BITS +: SUM_BITS] >> SHIFT);
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
