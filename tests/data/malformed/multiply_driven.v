// expect: 6: net O\[0\] has more than one driver \(first driven at line 5\)
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O[15:1] = 15'd0;
  assign O[0] = A[0];
  assign O[0] = B[0];
endmodule
