// expect: 5: module m: instance u1 of AND2X1: no port named C \(ports: A, B, Y\)
module m(A, B, O);
  input [7:0] A; input [7:0] B; output [15:0] O;
  assign O[15:1] = 15'd0;
  AND2X1 u1 (.A(A[0]), .B(B[0]), .C(B[1]), .Y(O[0]));
endmodule
