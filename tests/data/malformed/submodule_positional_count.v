// expect: 5: module m: instance u of half: 2 positional connections for 4 ports
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O[15:1] = 15'd0;
  half u (A[0], B[0]);
  assign O[0] = 1'b0;
endmodule
module half(input a, input b, output s, output c);
  assign s = a ^ b;
  assign c = a & b;
endmodule
