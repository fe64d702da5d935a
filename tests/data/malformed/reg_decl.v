// expect: 4: module m: reg r: sequential logic is not supported
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  reg r;
  assign O = 16'd0;
endmodule
