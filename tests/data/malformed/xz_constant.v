// expect: 4: module m: constant 16'bx has x/z bits; only 0/1 constants are supported
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O = 16'bx;
endmodule
