// expect: module m: port B must be 8 bits wide, not 7
module m(A, B, O);
  input [7:0] A; input [6:0] B; output [15:0] O;
  assign O = {A, 1'b0, B};
endmodule
