// mbdsl_fifo: full-throughput AXI-Stream FIFO with a registered read port.
//
// DEPTH entries (>= 2) of WIDTH bits in a simple dual-port memory (one write, one
// registered read per cycle, as block RAM and LUT RAM both provide), plus the output
// register: DEPTH + 1 beats in all. Every output is a register: s_axis_tready is !full of
// the memory, m_axis_tvalid and m_axis_tdata are the output register, so no combinational
// path crosses a FIFO (each unit's backpressure logic ends at the FIFO next to it). Push
// and pop in the same cycle are allowed; a beat takes two cycles from input to output, and
// the FIFO passes one beat per cycle in steady state.
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
    logic [CW-1:0] count;   // beats in the memory (not counting the output register)

    wire push = s_axis_tvalid && s_axis_tready;
    // read the memory into the output register when it is empty or being emptied
    wire load = (count != '0) && (!m_axis_tvalid || m_axis_tready);

    assign s_axis_tready = (count != CW'(DEPTH));

    always_ff @(posedge clk) begin
        if (push) mem[wp] <= s_axis_tdata;
    end

    always_ff @(posedge clk) begin
        if (load) m_axis_tdata <= mem[rp];
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            wp <= '0;
            rp <= '0;
            count <= '0;
            m_axis_tvalid <= 1'b0;
        end else begin
            if (push) wp <= (wp == AW'(DEPTH - 1)) ? '0 : wp + 1'b1;
            if (load) rp <= (rp == AW'(DEPTH - 1)) ? '0 : rp + 1'b1;
            if (push && !load) count <= count + 1'b1;
            else if (load && !push) count <= count - 1'b1;
            if (load) m_axis_tvalid <= 1'b1;
            else if (m_axis_tready) m_axis_tvalid <= 1'b0;
        end
    end
endmodule
