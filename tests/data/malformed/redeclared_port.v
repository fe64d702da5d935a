// expect: 5: module m: port B is declared twice \(first at line 4\)
module m(A, B, O);
  input [7:0] A;
  input [7:0] B; output [15:0] O;
  input [7:0] B;
  assign O = A * B;
endmodule
