// Hardware-in-the-loop harness around the generated accelerator (module rtlgen_accel).
//
// One conv layer per pulse on `go`, with no host code in the per-cycle path: the host (cocotb,
// rtlgen.accel.tb.FileDriver) writes four hex files into the simulator's working folder and
// pulses `go`; the harness then, inside the simulator,
//   1. loads the memories in bulk with $readmemh straight into the accelerator's arrays
//      (hil_act.hex -> act_mem, hil_wgt.hex -> wgt_mem, hil_par.hex -> par_mem; each file names
//      its start address with an @ line, so only the layer's region is written),
//   2. reads hil_cfg.hex: words 0..NCFG-1 are the descriptor registers in configuration-port
//      order (rtlgen.accel.descriptor.FIELDS), word NCFG and NCFG+1 the first and last byte
//      address of the layer's output,
//   3. writes the descriptor through the configuration port, one register per cycle, pulses
//      `start`, waits for `done`,
//   4. dumps the output bytes with $writememh to hil_out.hex and raises `finished`.
// The accelerator's own host ports (act_we, wgt_we, par_we) stay idle: the bulk load stands in
// for the host's memory writes (same addresses, same layouts).
module rtlgen_hil_tb #(
    parameter integer NCFG = 25   // len(rtlgen.accel.descriptor.FIELDS); tb.py passes it
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        go,
    output reg         finished,
    output wire [31:0] cycles,
    output wire [31:0] issued
);
    reg  [31:0] cfg [0:NCFG+1];
    reg  [2:0]  state;
    reg  [4:0]  cfg_addr;
    reg  [31:0] cfg_data;
    reg         cfg_we;
    reg         start;
    reg  [5:0]  index;
    wire        busy;
    wire        done;

    rtlgen_accel dut (
        .clk(clk), .rst(rst),
        .cfg_we(cfg_we), .cfg_addr(cfg_addr), .cfg_data(cfg_data),
        .start(start), .busy(busy), .done(done),
        .act_we(1'b0), .act_addr('0), .act_wdata(8'd0), .act_rdata(),
        .wgt_we(1'b0), .wgt_addr('0), .wgt_wdata('0),
        .par_we(1'b0), .par_addr('0), .par_wdata('0),
        .cycles(cycles), .issued(issued)
    );

    always @(posedge clk) begin
        if (rst) begin
            state <= 3'd0;
            finished <= 1'b0;
            cfg_we <= 1'b0;
            start <= 1'b0;
        end else begin
            case (state)
                3'd0: if (go) begin
                    $readmemh("hil_cfg.hex", cfg);
                    $readmemh("hil_act.hex", dut.act_mem);
                    $readmemh("hil_wgt.hex", dut.wgt_mem);
                    $readmemh("hil_par.hex", dut.par_mem);
                    finished <= 1'b0;
                    index <= 6'd0;
                    state <= 3'd1;
                end
                3'd1: begin
                    cfg_we <= 1'b1;
                    cfg_addr <= index[4:0];
                    cfg_data <= cfg[index];
                    index <= index + 6'd1;
                    if (index == NCFG - 1) state <= 3'd2;
                end
                3'd2: begin
                    cfg_we <= 1'b0;
                    start <= 1'b1;
                    state <= 3'd3;
                end
                3'd3: begin   // the accelerator takes start on this edge: done falls
                    start <= 1'b0;
                    state <= 3'd4;
                end
                3'd4: if (done) begin
                    $writememh("hil_out.hex", dut.act_mem, cfg[NCFG], cfg[NCFG+1]);
                    finished <= 1'b1;
                    state <= 3'd0;
                end
                default: state <= 3'd0;
            endcase
        end
    end
endmodule
