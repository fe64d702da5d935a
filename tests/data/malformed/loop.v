// expect: 5: combinational loop through
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  wire x, y;
  assign x = y & A[0];
  assign y = x | B[0];
  assign O = {15'd0, x};
endmodule
