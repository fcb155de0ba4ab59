// mbdsl_credit_fifo: the output queue of a free-running pipeline.
//
// A unit whose pipeline never stalls reserves a slot here when it issues work that will
// produce an output beat (i_reserve, allowed while o_credit), and writes that beat
// (i_valid, i_data) when it leaves the pipeline, any number of cycles later; the slot is
// free again when the beat leaves on m_axis. o_credit is a function of registers only, so
// the downstream ready never reaches the unit's pipeline: it ends at this queue. With
// DEPTH >= the pipeline latency + 3, credits never run out while the output flows, and
// the unit issues at full rate.
module mbdsl_credit_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 4
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic             i_reserve,
    output logic             o_credit,
    input  logic             i_valid,
    input  logic [WIDTH-1:0] i_data,
    output logic [WIDTH-1:0] m_axis_tdata,
    output logic             m_axis_tvalid,
    input  logic             m_axis_tready
);
    localparam int CW = $clog2(DEPTH + 1);

    logic [CW-1:0] reserved;   // beats issued and not yet sent
    wire pop = m_axis_tvalid && m_axis_tready;
    assign o_credit = (reserved != CW'(DEPTH));

    always_ff @(posedge clk) begin
        if (!rst_n) reserved <= '0;
        else if (i_reserve && !pop) reserved <= reserved + 1'b1;
        else if (pop && !i_reserve) reserved <= reserved - 1'b1;
    end

    // never full: at most DEPTH beats are reserved, so i_valid always finds room
    logic unused_ready;
    mbdsl_fifo #(.WIDTH(WIDTH), .DEPTH(DEPTH)) u_q (
        .clk, .rst_n,
        .s_axis_tdata(i_data), .s_axis_tvalid(i_valid), .s_axis_tready(unused_ready),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );
endmodule
