// mbdsl_fifo: full-throughput AXI-Stream FIFO.
//
// DEPTH entries (>= 2) of WIDTH bits. s_axis_tready is !full, a function of registers only,
// so no combinational ready path crosses a FIFO (each layer's backpressure logic ends at
// the FIFO in front of it). Push and pop in the same cycle are allowed whenever it is not
// full; with DEPTH >= 2 a FIFO passes one beat per cycle in steady state. The read is
// asynchronous from the storage array (LUT RAM / registers); m_axis_tdata is stable while
// m_axis_tvalid && !m_axis_tready.
module mbdsl_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 2
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [WIDTH-1:0] s_axis_tdata,
    input  logic             s_axis_tvalid,
    output logic             s_axis_tready,
    output logic [WIDTH-1:0] m_axis_tdata,
    output logic             m_axis_tvalid,
    input  logic             m_axis_tready
);
    localparam int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam int CW = $clog2(DEPTH + 1);

    logic [WIDTH-1:0] mem [DEPTH];
    logic [AW-1:0] wp, rp;
    logic [CW-1:0] count;

    wire push = s_axis_tvalid && s_axis_tready;
    wire pop  = m_axis_tvalid && m_axis_tready;

    assign m_axis_tvalid = (count != '0);
    assign s_axis_tready = (count != CW'(DEPTH));
    assign m_axis_tdata  = mem[rp];

    always_ff @(posedge clk) begin
        if (push) mem[wp] <= s_axis_tdata;
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wp <= '0;
            rp <= '0;
            count <= '0;
        end else begin
            if (push) wp <= (wp == AW'(DEPTH - 1)) ? '0 : wp + 1'b1;
            if (pop)  rp <= (rp == AW'(DEPTH - 1)) ? '0 : rp + 1'b1;
            if (push && !pop) count <= count + 1'b1;
            else if (pop && !push) count <= count - 1'b1;
        end
    end
endmodule
