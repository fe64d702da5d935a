// expect: 5: module m: always block: sequential or behavioural logic is not supported
module m(A, B, O, clk);
  input [7:0] A; input [7:0] B; input clk; output [15:0] O;
  wire [15:0] O;
  always @(posedge clk) begin end
  assign O = 16'd0;
endmodule
