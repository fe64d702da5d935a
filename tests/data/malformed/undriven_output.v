// expect: output bit O\[15\] is never driven
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O[14:0] = {7'd0, A & B};
endmodule
