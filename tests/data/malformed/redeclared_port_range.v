// expect: 5: module m: O declared as \[15:0\] at line 4 and as \[0:0\]
module m(A, B, O);
  input [7:0] A; input [7:0] B;
  output [15:0] O;
  wire O;
  assign O = A * B;
endmodule
