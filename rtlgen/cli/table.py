"""``rtlgen table NETLIST.v --out T.npy``: one netlist to its truth table."""
from __future__ import annotations

from rtlgen.netlist.export import export_table
from rtlgen.netlist.multiplier import read_multiplier


def register(sub) -> None:
    p = sub.add_parser("table", help="tabulate an 8x8 multiplier netlist (all 65,536 operand pairs)",
                       description="Write T[a, b] (int32 256x256: output for port A = a, port B = b) "
                                   "of a gate-level multiplier netlist.")
    p.add_argument("netlist", help="gate-level Verilog file")
    p.add_argument("--out", required=True, help="output file (.npy; .bin for TFApprox, .h for C)")
    sign = p.add_mutually_exclusive_group()
    sign.add_argument("--signed", dest="signed", action="store_const", const=True,
                      help="operands and output are two's complement")
    sign.add_argument("--unsigned", dest="signed", action="store_const", const=False,
                      help="operands and output are unsigned (default unless the module is mul8s_*)")
    p.add_argument("--top", help="top module (default: the one no other module instantiates)")
    p.add_argument("--liberty", help="liberty file for cells the netlist does not define (default: OSU018)")
    p.set_defaults(handler=run)


def run(args) -> int:
    netlist, table, signed = read_multiplier(args.netlist, signed=args.signed, top=args.top, liberty=args.liberty)
    export_table(table, signed, args.out, name=netlist.name)
    return 0
