// expect: 5: module m: instance u1 of AND2X1: port A is 1 bits wide, connected to a 2-bit expression
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O[15:1] = 15'd0;
  AND2X1 u1 (.A(A[1:0]), .B(B[0]), .Y(O[0]));
endmodule
