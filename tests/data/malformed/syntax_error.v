// expect: 4: syntax error before 'assign'
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O
  assign O = 16'd0;
endmodule
