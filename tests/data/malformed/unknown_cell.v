// expect: 5: module m: instance u1: unknown module or cell FOO2X1 \(not defined in this file and not a cell of osu018_stdcells.lib\)
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O[15:1] = 15'd0;
  FOO2X1 u1 (.A(A[0]), .B(B[0]), .Y(O[0]));
endmodule
