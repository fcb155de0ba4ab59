// mbdsl_wload: writes one unit's run-time weight memory (mbdsl_mac_core WMEM 1) from a
// 32-bit AXI-Stream, then passes the rest of the stream on to the next loader.
//
// The stream carries DEPTH words of WIDTH bits, word 0 first, each as NB = ceil(WIDTH/32)
// beats, least significant 32 bits first (the last beat's bits above WIDTH are ignored).
// A word's beats shift into a register that is the memory's write data; its last beat sets
// the registered write enable and address, so the memory writes the whole word in the next
// cycle while the next word's first beat shifts in. After the DEPTH-th word o_done stays
// high and every further beat goes to m_axis through one register: the loaders of a top
// form a chain, each taking its own words first. Every ready depends on registers only;
// passing on takes two cycles a beat (a loader's own words one).
module mbdsl_wload #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 2,
    localparam int AW = (DEPTH > 1) ? $clog2(DEPTH) : 1
) (
    input  logic             clk,
    input  logic             rst_n,
    input  logic [31:0]      s_axis_tdata,
    input  logic             s_axis_tvalid,
    output logic             s_axis_tready,
    output logic [31:0]      m_axis_tdata,
    output logic             m_axis_tvalid,
    input  logic             m_axis_tready,
    output logic             o_wen,
    output logic [AW-1:0]    o_waddr,
    output logic [WIDTH-1:0] o_wdata,
    output logic             o_done
);
    localparam int NB  = (WIDTH + 31) / 32;
    localparam int BW  = (NB > 1) ? $clog2(NB) : 1;

    /* verilator lint_off UNUSEDSIGNAL */   // the last beat's bits above WIDTH
    logic [NB*32-1:0] word;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [BW-1:0] beat;
    logic [AW-1:0] addr;

    assign s_axis_tready = !o_done || !m_axis_tvalid;
    wire take = s_axis_tvalid && s_axis_tready;
    wire own = take && !o_done;
    wire last = (beat == BW'(NB - 1));
    assign o_wdata = word[WIDTH-1:0];

    if (NB > 1) begin : g_shift
        always_ff @(posedge clk)
            if (own) word <= {s_axis_tdata, word[NB*32-1:32]};
    end else begin : g_one
        always_ff @(posedge clk)
            if (own) word <= s_axis_tdata;
    end

    always_ff @(posedge clk) begin
        if (own && last) o_waddr <= addr;
        if (take && o_done) m_axis_tdata <= s_axis_tdata;
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            beat <= '0;
            addr <= '0;
            o_wen <= 1'b0;
            o_done <= 1'b0;
            m_axis_tvalid <= 1'b0;
        end else begin
            o_wen <= own && last;
            if (own) begin
                beat <= last ? '0 : beat + 1'b1;
                if (last) begin
                    addr <= addr + 1'b1;
                    o_done <= (addr == AW'(DEPTH - 1));
                end
            end
            if (take && o_done) m_axis_tvalid <= 1'b1;
            else if (m_axis_tready) m_axis_tvalid <= 1'b0;
        end
    end
endmodule
