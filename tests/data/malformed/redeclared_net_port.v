// expect: 5: module m: wire O is declared twice \(first at line 4\)
module m(A, B, O);
  input [7:0] A; input [7:0] B;
  output wire [15:0] O;
  wire [15:0] O;
  assign O = A * B;
endmodule
