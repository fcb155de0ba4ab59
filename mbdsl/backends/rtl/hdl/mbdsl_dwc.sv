// mbdsl_dwc: stream data-width converter, IN_ELEMS -> OUT_ELEMS elements of BITS per beat.
//
// The element order is preserved (element 0 of a beat in the low bits). TOTAL (elements
// per pixel) must be a multiple of both widths, so pixel boundaries stay aligned; the
// converter itself works on the continuous element sequence. A shift buffer of
// IN_ELEMS + OUT_ELEMS elements keeps the narrower side at one beat per cycle; tready and
// tvalid depend only on the fill count (no combinational path between the two sides).
// IN_ELEMS == OUT_ELEMS is a plain wire.
module mbdsl_dwc #(
    parameter int IN_ELEMS  = 1,
    parameter int OUT_ELEMS = 4,
    parameter int BITS      = 4,
    parameter int TOTAL     = 4
) (
    input  logic                      clk,
    input  logic                      rst_n,
    input  logic [IN_ELEMS*BITS-1:0]  s_axis_tdata,
    input  logic                      s_axis_tvalid,
    output logic                      s_axis_tready,
    output logic [OUT_ELEMS*BITS-1:0] m_axis_tdata,
    output logic                      m_axis_tvalid,
    input  logic                      m_axis_tready
);
    if (IN_ELEMS == OUT_ELEMS) begin : g_wire
        assign m_axis_tdata  = s_axis_tdata;
        assign m_axis_tvalid = s_axis_tvalid;
        assign s_axis_tready = m_axis_tready;
        // clk/rst_n are unused in this configuration
        wire unused = &{1'b0, clk, rst_n, TOTAL[0]};
    end else begin : g_conv
        localparam int CAP = IN_ELEMS + OUT_ELEMS;
        localparam int NW  = $clog2(CAP + 1);

        logic [BITS-1:0] buf_q [CAP];
        logic [NW-1:0] cnt, cnt1;

        assign s_axis_tready = (cnt <= NW'(OUT_ELEMS));
        assign m_axis_tvalid = (cnt >= NW'(OUT_ELEMS));
        wire pop  = m_axis_tvalid && m_axis_tready;
        wire push = s_axis_tvalid && s_axis_tready;
        assign cnt1 = pop ? cnt - NW'(OUT_ELEMS) : cnt;

        for (genvar j = 0; j < OUT_ELEMS; j++) begin : g_out
            assign m_axis_tdata[j*BITS +: BITS] = buf_q[j];
        end

        for (genvar i = 0; i < CAP; i++) begin : g_elem
            logic [BITS-1:0] shifted;
            logic [NW-1:0] rel;   // position of element i within the incoming beat
            if (i + OUT_ELEMS < CAP) begin : g_sh
                assign shifted = pop ? buf_q[i + OUT_ELEMS] : buf_q[i];
            end else begin : g_nosh
                assign shifted = buf_q[i];
            end
            assign rel = NW'(i) - cnt1;
            always_ff @(posedge clk) begin
                if (push && NW'(i) >= cnt1 && rel < NW'(IN_ELEMS))
                    buf_q[i] <= s_axis_tdata[rel*BITS +: BITS];
                else
                    buf_q[i] <= shifted;
            end
        end

        always_ff @(posedge clk) begin
            if (!rst_n) cnt <= '0;
            else cnt <= cnt1 + (push ? NW'(IN_ELEMS) : NW'(0));
        end
    end
endmodule
