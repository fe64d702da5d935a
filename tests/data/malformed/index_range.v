// expect: 4: module m: index 8 is outside \[7:0\]
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O = {15'd0, A[8]};
endmodule
