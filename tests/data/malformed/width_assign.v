// expect: 4: module m: assign: right-hand side is 16 bits wide, wider than its 8-bit target
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O; wire [7:0] w;
  assign w = {A, B};
  assign O = {w, w};
endmodule
