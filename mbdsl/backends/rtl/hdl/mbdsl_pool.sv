// mbdsl_pool: global sum / average pool over N_PIX pixels, C channels, PE lanes.
//
// Input per frame: N_PIX pixels, each C/PE beats of PE unsigned IN_BITS elements
// (channel order). After the frame's last pixel, output C/PE beats of PE elements:
// min(sum >> SHIFT, 2**OUT_BITS - 1) (semantics.truncate_shift with an unsigned type),
// sum in SUM_BITS bits; with REQUANT (the multiplier style) instead
// min(round_shift(sum * m0, SHIFT), 2**OUT_BITS - 1) by mbdsl_requant, m0 from RQ_FILE (C/PE
// words of PE lanes of a zero bias bit and M0_BITS of m0), PROD_BITS holding the product. With three or more channel groups (CG = C/PE) the accumulators live
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
    parameter int OUT_BITS = 4,
    parameter bit REQUANT  = 1'b0,
    parameter int M0_BITS  = 1,
    parameter int PROD_BITS = 2,
    parameter RQ_FILE      = ""
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
    localparam int RQ_TERMS = (M0_BITS + 1) / 2 + ((SHIFT > 0) ? 1 : 0);   // mbdsl_requant's tree
    localparam int RQ_LAT = REQUANT ? 4 + ((RQ_TERMS > 1) ? $clog2(RQ_TERMS) : 0) : 0;
    // the results of a frame, and the pipeline's round trip
    localparam int FD  = ((CG > 2) ? CG : 2) + 6 + RQ_LAT;
    localparam logic [SUM_BITS-1:0] OMAX = SUM_BITS'((64'(1) << OUT_BITS) - 64'(1));

    logic [GW-1:0] g;
    logic [PXW-1:0] pix;
    logic [PE*OUT_BITS-1:0] q;
    logic res_v, q_v, credit;

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

    always_ff @(posedge clk) begin
        if (!rst_n) res_v <= 1'b0;
        else res_v <= v_add && last_add;
    end

    for (genvar p = 0; p < PE; p++) begin : g_lane
        assign sum[p*SUM_BITS +: SUM_BITS] = (first_add ? '0 : acc_add[p*SUM_BITS +: SUM_BITS])
                                           + SUM_BITS'(x_add[p*IN_BITS +: IN_BITS]);
    end

    if (REQUANT) begin : g_rq
        logic [PE*(SUM_BITS+1)-1:0] sum_q;   // the sums as signed (non-negative) values
        for (genvar p = 0; p < PE; p++) begin : g_lane
            always_ff @(posedge clk) sum_q[p*(SUM_BITS+1) +: SUM_BITS+1] <= {1'b0, sum[p*SUM_BITS +: SUM_BITS]};
        end
        mbdsl_requant #(
            .PE(PE), .NG(CG), .ACC_BITS(SUM_BITS + 1), .BIAS_BITS(1), .M0_BITS(M0_BITS),
            .PROD_BITS(PROD_BITS), .SHIFT(SHIFT), .OUT_BITS(OUT_BITS), .OUT_MIN(0), .RQ_FILE(RQ_FILE)
        ) u_rq (
            .clk, .rst_n, .i_read(v_add && last_add), .i_valid(res_v), .i_acc(sum_q),
            .o_valid(q_v), .o_q(q)
        );
    end else begin : g_shift
        logic [PE*OUT_BITS-1:0] res;
        for (genvar p = 0; p < PE; p++) begin : g_lane
            if (SUM_BITS - SHIFT > OUT_BITS) begin : g_clamp
                logic [SUM_BITS-1:0] shifted;
                assign shifted = sum[p*SUM_BITS +: SUM_BITS] >> SHIFT;
                assign res[p*OUT_BITS +: OUT_BITS] = OUT_BITS'((shifted > OMAX) ? OMAX : shifted);
            end else begin : g_fits  // the shifted sum fits OUT_BITS: no clamp
                assign res[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(sum[p*SUM_BITS +: SUM_BITS] >> SHIFT);
            end
        end
        always_ff @(posedge clk) q <= res;
        assign q_v = res_v;
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
        .i_valid(q_v), .i_data(q),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );
endmodule
