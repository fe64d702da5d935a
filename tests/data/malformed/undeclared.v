// expect: 4: module m: nothere is not declared
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O = {8'd0, nothere};
endmodule
