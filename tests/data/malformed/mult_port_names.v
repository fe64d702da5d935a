// expect: module m: a multiplier needs input ports A and B, found X, B
module m(X, B, O);
  input [7:0] X; input [7:0] B; output [15:0] O;
  assign O = {X, B};
endmodule
