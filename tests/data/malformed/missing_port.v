// expect: 5: module m: instance u1 of cell HAX1: input pin B is not connected
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O[15:2] = 14'd0;
  HAX1 u1 (.A(A[0]), .YS(O[0]), .YC(O[1]));
endmodule
