// expect: module m: port C is listed in the header but has no input/output declaration
module m(A, B, C, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O = 16'd0;
endmodule
