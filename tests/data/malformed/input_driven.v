// expect: 4: input port bit A\[0\] is driven inside the module
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign A[0] = B[0];
  assign O = 16'd0;
endmodule
