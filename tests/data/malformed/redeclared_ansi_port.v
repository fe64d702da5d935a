// expect: 3: module m: wire A redeclares port A, declared completely in the ANSI module header at line 2
module m(input [7:0] A, input [7:0] B, output [15:0] O);
  wire [7:0] A;
  assign O = A * B;
endmodule
