// expect: 5: module m: instance f1: cell DFFPOSX1 is sequential or tri-state; only combinational logic is supported
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O[15:1] = 15'd0;
  DFFPOSX1 f1 (.CLK(A[0]), .D(B[0]), .Q(O[0]));
endmodule
