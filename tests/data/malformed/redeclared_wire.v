// expect: 5: module m: wire x is declared twice \(first at line 4\)
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  wire x;
  wire x;
  assign x = A[0];
  assign O = {15'd0, x};
endmodule
