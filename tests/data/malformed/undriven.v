// expect: 5: net w is never driven but is read here
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  wire w;
  assign O = {15'd0, w & A[0]};
endmodule
