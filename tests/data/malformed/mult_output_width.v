// expect: module m: output O must be 16 bits wide, not 15
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [14:0] O;
  assign O = {A[6:0], B};
endmodule
