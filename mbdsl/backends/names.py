"""Names the user chooses (layers, networks) as identifiers of generated code.

A layer name is already an identifier of the spec language (``[A-Za-z_][A-Za-z0-9_]*``,
or two joined by a dot for the halves of ``dwsep``), so most names are used as they are
and the generated files of ordinary specs do not change. A name that is a keyword of
Verilog, SystemVerilog, C or C++ (``always``, ``module``, ``int``, ``return``), that C and
C++ reserve (``_X...``, ``__x...``), or that a backend reserves for its own signals gets the
prefix ``l_``. Each backend then checks that no two layers end up with the same identifier
(``b3.dw`` and ``b3_dw``, ``always`` and ``l_always``) and refuses the spec at the second
layer if they do.
"""

from __future__ import annotations

import re

__all__ = ["KEYWORDS", "PREFIX", "identifier"]

PREFIX = "l_"

_VERILOG = """
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default
defparam design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive
endspecify endtable endtask event for force forever fork function generate genvar highz0 highz1 if
ifnone incdir include initial inout input instance integer join large liblist library localparam
macromodule medium module nand negedge nmos nor noshowcancelled not notif0 notif1 or output parameter
pmos posedge primitive pull0 pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent rcmos real
realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small
specify specparam strong0 strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1
triand trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
"""
_SYSTEMVERILOG = """
accept_on alias always_comb always_ff always_latch assert assume before bind bins binsof bit break byte
chandle checker class clocking const constraint context continue cover covergroup coverpoint cross dist
do endchecker endclass endclocking endgroup endinterface endpackage endprogram endproperty endsequence
enum eventually expect export extends extern final first_match foreach forkjoin global iff ignore_bins
illegal_bins implements implies import inside int interconnect interface intersect join_any join_none
let local logic longint matches modport nettype new nexttime null package packed priority program
property protected pure rand randc randcase randsequence ref reject_on restrict return s_always
s_eventually s_nexttime s_until s_until_with sequence shortint shortreal soft solve static string
strong struct super sync_accept_on sync_reject_on tagged this throughout timeprecision timeunit type
typedef union unique unique0 until until_with untyped var virtual void wait_order weak wildcard with
within
"""
_C = """
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while
"""
_CPP = """
alignas alignof and and_eq asm bitand bitor bool catch char8_t char16_t char32_t class compl concept
consteval constexpr constinit const_cast co_await co_return co_yield decltype delete dynamic_cast
explicit export false friend mutable namespace new noexcept not not_eq nullptr operator or or_eq
private protected public reinterpret_cast requires static_assert static_cast template this
thread_local throw true try typeid typename using virtual wchar_t xor xor_eq
"""
# Names of the C/C++ environment that generated code uses or includes: a function of the
# same name would clash with them.
_ENVIRONMENT = """
main assert abs exit free malloc memcpy memset printf fprintf NULL EOF errno stdin stdout stderr std
hls ap_int ap_uint
"""

KEYWORDS = frozenset((_VERILOG + _SYSTEMVERILOG + _C + _CPP + _ENVIRONMENT).split())
"""Words no generated identifier may be."""

_C_RESERVED = re.compile(r"_[A-Z_].*")


def identifier(name: str, reserved=lambda ident: False) -> str:
    """The identifier generated code uses for ``name`` (``b3.dw`` -> ``b3_dw``, ``always``
    -> ``l_always``); ``reserved(ident)`` says which further identifiers a backend keeps
    for itself."""
    ident = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not ident or ident[0].isdigit() or ident in KEYWORDS or _C_RESERVED.fullmatch(ident) or reserved(ident):
        ident = PREFIX + ident
    return ident
