// mbdsl_swg: sliding-window generator with built-in zero padding.
//
// Input: IFM_H x IFM_W pixels, row-major, each pixel CF = C/CPAR beats of CPAR elements
// (BITS each, channel order); with PIX > 1 (PIX = 2 or 4 dividing IFM_W, CPAR = C) each
// beat holds PIX whole pixels of a row, pixel j in elements j*C .. j*C + C-1. Frames
// arrive back to back; the unit treats rows as one continuous sequence, so the next
// frame's rows load while this frame's last windows are emitted.
// Output, per output pixel (OH x OW, row-major), beats of KPAR*CPAR elements, element
// kp*CPAR + ch:
//   DW = 0: kernel-position groups (KG = K*K/KPAR, row-major positions) major, channel
//           groups minor (KPAR > 1 requires CPAR == C);
//   DW = 1: channel groups major, kernel-position groups minor.
// Kernel position kpg*KPAR + kp = kh*K + kw of output pixel (oh, ow) reads input pixel
// (oh*STRIDE - PAD + kh, ow*STRIDE - PAD + kw), or emits 0 outside the image.
//
// Storage: a ring of R = K + STRIDE rows of IFM_W*CF/PIX words (a word is an input beat)
// in a simple dual-port memory (one write, one registered read per cycle), replicated per
// kernel lane (KPAR banks). A lane reads the word of its pixel column and selects the
// pixel (the column's low bits) after the read.
// A single signed counter d = rows written minus the reader's frame base row decides
// both sides: the reader may emit output row oh when row hi(oh) is complete (d > hi);
// the writer may write when the ring slot it overwrites is no longer needed
// (d < lo + R; see "writer limit" below for the reads still in flight).
// Cycles per frame ~ OH*max(OW*K*K*CF/KPAR, STRIDE*IFM_W*CF/PIX) plus a fill of about
// K - STRIDE rows.
//
// The reader never stalls: each issued beat (go) passes five register stages, every
// cycle, into a credit queue (mbdsl_credit_fifo) that absorbs output backpressure; a beat
// is issued only with a credit. Read addresses come from counters stepped by constants
// (row base, column base, channel group) and, per kernel lane, constants selected by the
// kernel group: no multiply or modulo before the memory, and the issue (go) enables only
// the shared window counters.
//   A window counters   B the issued window   C padding, slot base, column   D address
//   E memory read   F zeroed padding -> queue
module mbdsl_swg #(
    parameter int IFM_H  = 8,
    parameter int IFM_W  = 8,
    parameter int C      = 4,
    parameter int K      = 3,
    parameter int STRIDE = 1,
    parameter int PAD    = 0,
    parameter int BITS   = 4,
    parameter int CPAR   = 1,
    parameter int KPAR   = 1,
    parameter bit DW     = 1'b0,
    parameter int PIX    = 1
) (
    input  logic                        clk,
    input  logic                        rst_n,
    input  logic [PIX*CPAR*BITS-1:0]    s_axis_tdata,
    input  logic                        s_axis_tvalid,
    output logic                        s_axis_tready,
    output logic [KPAR*CPAR*BITS-1:0]   m_axis_tdata,
    output logic                        m_axis_tvalid,
    input  logic                        m_axis_tready
);
    localparam int CF    = C / CPAR;
    localparam int KK    = K * K;
    localparam int KG    = KK / KPAR;
    localparam int OH    = (IFM_H + 2*PAD - K) / STRIDE + 1;
    localparam int OW    = (IFM_W + 2*PAD - K) / STRIDE + 1;
    localparam int R     = K + STRIDE;
    localparam int ROWW  = IFM_W * CF / PIX;   // words of a row
    localparam int DEPTH = R * ROWW;
    localparam int AW    = (DEPTH > 1) ? $clog2(DEPTH) : 1;
    localparam int RWW   = (ROWW > 1) ? $clog2(ROWW) : 1;
    localparam int CFW   = (CF > 1) ? $clog2(CF) : 1;
    localparam int KGW   = (KG > 1) ? $clog2(KG) : 1;
    localparam int OHW   = (OH > 1) ? $clog2(OH) : 1;
    localparam int OWW   = (OW > 1) ? $clog2(OW) : 1;
    localparam int MAXD  = (IFM_H > IFM_W ? IFM_H : IFM_W) + 2*PAD + K + STRIDE + R;
    localparam int CB    = $clog2(MAXD + 1) + 2;   // signed row/column arithmetic
    localparam int EW    = CPAR * BITS;
    localparam int MW    = PIX * EW;   // a memory word: an input beat
    localparam int LP    = $clog2(PIX);   // a pixel column's word: column >> LP
    localparam int LPW   = (LP > 0) ? LP : 1;
    localparam int XW    = AW + LP;   // a pixel column (IFM_W may exceed the words of the ring)
    localparam int PAD_R = PAD % R;
    localparam int H_R   = IFM_H % R;

    // address arithmetic: signed, wide enough for -PAD*CF .. 2*DEPTH*PIX
    localparam int AB    = XW + 2;
    localparam int RD_LAT = 5;   // go to queue write: stages B C D E F

    // (a + b) mod DEPTH for a, b < DEPTH
    function automatic logic [AW-1:0] addmod_depth(input logic [AW-1:0] a, input logic [AW-1:0] b);
        logic [AW:0] t;
        t = {1'b0, a} + {1'b0, b};
        addmod_depth = (t >= (AW+1)'(DEPTH)) ? AW'(t - (AW+1)'(DEPTH)) : AW'(t);
    endfunction

    logic credit;

    // ---------------- shared row bookkeeping ----------------
    logic signed [CB-1:0] d;      // rows written - reader frame base
    logic signed [CB-1:0] ih0;    // input row of kernel row 0 for the current output row
    logic signed [CB-1:0] iw0;    // input column of kernel column 0
    // the highest input row the current output row reads (clamped to the image), a register
    // stepped with ih0, so that the reader's go compares two registers; lim: "writer limit"
    logic signed [CB-1:0] hi, lim;
    localparam int HI0 = (K - 1 - PAD > IFM_H - 1) ? IFM_H - 1 : K - 1 - PAD;
    logic signed [CB-1:0] hi_step;
    assign hi_step = (hi + CB'(STRIDE) > CB'(IFM_H - 1)) ? CB'(IFM_H - 1) : hi + CB'(STRIDE);

    // ---------------- writer ----------------
    logic [AW-1:0] waddr;
    logic [RWW-1:0] wcnt;
    assign s_axis_tready = d < lim;
    wire push = s_axis_tvalid && s_axis_tready;
    wire row_done = push && (wcnt == RWW'(ROWW - 1));

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            waddr <= '0;
            wcnt <= '0;
        end else if (push) begin
            waddr <= (waddr == AW'(DEPTH - 1)) ? '0 : waddr + 1'b1;
            wcnt <= (wcnt == RWW'(ROWW - 1)) ? '0 : wcnt + 1'b1;
        end
    end

    // ---------------- reader, stage A: window counters ----------------
    logic [CFW-1:0] cg;
    logic [KGW-1:0] kpg;
    logic [OWW-1:0] ow;
    logic [OHW-1:0] oh;
    logic [AW-1:0] row0_next;       // row0_base of the next frame's first output row
    logic [AW-1:0] row0_base;       // ring slot of input row ih0, times ROWW
    logic signed [AB-1:0] col0;     // iw0 * CF (a pixel column with PIX > 1, CF = 1)

    wire go = credit && (d > hi);
    wire cg_last  = (cg == CFW'(CF - 1));
    wire kpg_last = (kpg == KGW'(KG - 1));
    wire kpg_step = DW ? 1'b1 : cg_last;
    wire cg_step  = DW ? kpg_last : 1'b1;
    wire pix_last = cg_last && kpg_last;
    wire ow_last  = (ow == OWW'(OW - 1));
    wire oh_last  = (oh == OHW'(OH - 1));
    wire frame_done = go && pix_last && ow_last && oh_last;

    // the slot of row -PAD is R - PAD mod R slots after the frame's row 0; a frame's row 0
    // is H mod R slots after the previous frame's (one modular add per frame, from a register)
    localparam int ROW0_OFS = ((R - PAD_R) % R) * ROWW;
    localparam int ROW0_NEXT0 = (H_R * ROWW + ROW0_OFS) % DEPTH;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            d <= '0;
            cg <= '0;
            kpg <= '0;
            ow <= '0;
            oh <= '0;
            ih0 <= -CB'(PAD);
            hi <= CB'(HI0);
            iw0 <= -CB'(PAD);
            col0 <= -AB'(PAD * CF);
            row0_next <= AW'(ROW0_NEXT0);
            row0_base <= AW'(ROW0_OFS);
        end else begin
            // d + row_done - frame_done*IFM_H, its sums formed from registers ahead of the select
            case ({row_done, frame_done})
                2'b10: d <= d + CB'(1);
                2'b01: d <= d - CB'(IFM_H);
                2'b11: d <= d + CB'(1 - IFM_H);
                default: d <= d;
            endcase
            if (go) begin
                if (cg_step) cg <= cg_last ? '0 : cg + 1'b1;
                if (kpg_step) kpg <= kpg_last ? '0 : kpg + 1'b1;
                if (pix_last) begin
                    if (ow_last) begin
                        ow <= '0;
                        iw0 <= -CB'(PAD);
                        col0 <= -AB'(PAD * CF);
                        if (oh_last) begin
                            oh <= '0;
                            ih0 <= -CB'(PAD);
                            hi <= CB'(HI0);
                            row0_base <= row0_next;
                            row0_next <= addmod_depth(row0_next, AW'(H_R * ROWW));
                        end else begin
                            oh <= oh + 1'b1;
                            ih0 <= ih0 + CB'(STRIDE);
                            hi <= hi_step;
                            row0_base <= addmod_depth(row0_base, AW'((STRIDE % R) * ROWW));
                        end
                    end else begin
                        ow <= ow + 1'b1;
                        iw0 <= iw0 + CB'(STRIDE);
                        col0 <= col0 + AB'(STRIDE * CF);
                    end
                end
            end
        end
    end

    // ---------------- writer limit ----------------
    // A released row's slot may still be read by the beats issued in the two cycles before
    // the release (a beat reads the memory in stage E, three cycles after its issue). The
    // writer, blocked at the start of the row that takes the slot, writes its beats 0 and 1
    // in the two cycles after the release. If the last two beats of every output row read
    // no column before LAST_COL, and a row has at least 3 beats, those writes miss them
    // (EARLY): the limit follows the release at once. Otherwise it follows lo two cycles late.
    localparam int BPP      = KK * CF / KPAR;   // beats per output pixel
    localparam int LAST_COL = (OW - ((BPP >= 2) ? 1 : 2)) * STRIDE - PAD;
    localparam bit EARLY    = (LAST_COL * CF >= 2 * PIX) && (ROWW >= 3);   // words 0 and 1 hold columns below 2*PIX
    if (EARLY) begin : g_lim_now
        logic signed [CB-1:0] lim_step;   // the next output row's lowest row, plus R
        assign lim_step = (ih0 + CB'(STRIDE) < 0) ? CB'(R) : ih0 + CB'(STRIDE + R);
        always_ff @(posedge clk) begin
            if (!rst_n) lim <= CB'(R);
            else if (go && pix_last && ow_last) lim <= oh_last ? CB'(R) : lim_step;
        end
    end else begin : g_lim_late
        logic signed [CB-1:0] lo, lo_q1;   // the reader's lowest row; a cycle ago, in the current frame's rows
        logic signed [CB-1:0] lo_step;
        assign lo_step = (ih0 + CB'(STRIDE) < 0) ? '0 : ih0 + CB'(STRIDE);
        always_ff @(posedge clk) begin
            if (!rst_n) begin
                lo <= '0;
                lo_q1 <= '0;
                lim <= CB'(R);
            end else begin
                if (go && pix_last && ow_last) lo <= oh_last ? '0 : lo_step;
                lo_q1 <= frame_done ? lo - CB'(IFM_H) : lo;
                lim <= frame_done ? lo_q1 + CB'(R - IFM_H) : lo_q1 + CB'(R);
            end
        end
    end

    // ---------------- valid bits of stages B .. F ----------------
    logic [RD_LAT-1:0] v;   // v[0]: stage B ... v[4]: stage F
    always_ff @(posedge clk) begin
        if (!rst_n) v <= '0;
        else v <= {v[RD_LAT-2:0], go};
    end

    // ---------------- B: the issued window ----------------
    logic signed [CB-1:0] ih0B, iw0B;
    logic [AW-1:0] row0B;
    logic signed [AB-1:0] colB;   // col0 + cg
    logic [KGW-1:0] kpgB;
    always_ff @(posedge clk) begin
        {ih0B, iw0B, row0B, kpgB} <= {ih0, iw0, row0_base, kpg};
        colB <= col0 + AB'(cg);
    end

    // ---------------- per kernel lane: position, address, bank ----------------
    logic [KPAR*EW-1:0] dataF;

    for (genvar kp = 0; kp < KPAR; kp++) begin : g_lane
        // this lane's kernel position in kernel group kpgB: kpgB*KPAR + kp = kh*K + kw
        logic signed [CB-1:0] kh, kw, ih, iw;
        logic [AW-1:0] kh_base;         // kh * ROWW
        logic signed [AB-1:0] kw_col;   // kw * CF
        always_comb begin
            kh = '0;
            kw = '0;
            kh_base = '0;
            kw_col = '0;
            for (int g = 0; g < KG; g++) begin
                if (kpgB == KGW'(g)) begin
                    kh = CB'((g*KPAR + kp) / K);
                    kw = CB'((g*KPAR + kp) % K);
                    kh_base = AW'((g*KPAR + kp) / K * ROWW);
                    kw_col = AB'((g*KPAR + kp) % K * CF);
                end
            end
        end
        assign ih = ih0B + kh;
        assign iw = iw0B + kw;

        logic padC, padD, padE;
        logic [AW-1:0] slotC, raddrD;
        logic [XW-1:0] colC;   // in range when the read is not padding
        logic [LPW-1:0] subD, subE;   // the pixel of the word (PIX > 1)
        logic [MW-1:0] mem [DEPTH];
        logic [MW-1:0] rdata;

        // C: padding, the slot's base address, the column's offset in the row
        always_ff @(posedge clk) begin
            padC <= (ih < 0) || (ih >= CB'(IFM_H)) || (iw < 0) || (iw >= CB'(IFM_W));
            slotC <= addmod_depth(row0B, kh_base);
            colC <= XW'(colB + kw_col);
        end
        // D: the address; E: the memory read; F: padding reads as zero, the word's pixel
        always_ff @(posedge clk) begin
            raddrD <= padC ? '0 : slotC + AW'(colC >> LP);
            subD <= (PIX > 1) ? LPW'(colC) : '0;
            padD <= padC;
            rdata <= mem[raddrD];
            subE <= subD;
            padE <= padD;
            dataF[kp*EW +: EW] <= padE ? '0 : rdata[subE*EW +: EW];
        end
        always_ff @(posedge clk) begin
            if (push) mem[waddr] <= s_axis_tdata;
        end
    end

    mbdsl_credit_fifo #(.WIDTH(KPAR*EW), .DEPTH(RD_LAT + 4)) u_out (
        .clk, .rst_n,
        .i_reserve(go), .o_credit(credit),
        .i_valid(v[RD_LAT-1]), .i_data(dataF),
        .m_axis_tdata, .m_axis_tvalid, .m_axis_tready
    );
endmodule
