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
//
// Beside it, the accelerator's AXI front end (module rtlgen_accel_device, the manifest's
// device/rtlgen_accel_device.v) with its ports s_axil_* (AXI4-Lite registers) and s_axis_*
// (AXI4-Stream image sink) brought out under the same names, so that cocotbext-axi binds them by
// prefix (rtlgen.hil.driver.CocotbAxiTransport): the HIL streams config.bin and weights.bin into
// it and reads its verdict before any layer runs. It sees the engine's busy/done; its run_start
// is left open, because the layers are still started by `go` above, one per pulse (the on-chip
// sequencer that runs a network from the loaded images, rtlgen.accel.sequencer, lives in the top
// generated with --axi, not in this harness).
module rtlgen_hil_tb #(
    parameter integer NCFG = 25,      // len(rtlgen.accel.descriptor.FIELDS); tb.py passes it
    parameter integer AXIL_ADDR = 8   // the register port's address bits (rtlgen.accel.axi)
) (
    input  wire        clk,
    input  wire        rst,
    input  wire        go,
    output reg         finished,
    output wire [31:0] cycles,
    output wire [31:0] issued,
    input  wire [AXIL_ADDR-1:0] s_axil_awaddr,
    input  wire [2:0]  s_axil_awprot,
    input  wire        s_axil_awvalid,
    output wire        s_axil_awready,
    input  wire [31:0] s_axil_wdata,
    input  wire [3:0]  s_axil_wstrb,
    input  wire        s_axil_wvalid,
    output wire        s_axil_wready,
    output wire [1:0]  s_axil_bresp,
    output wire        s_axil_bvalid,
    input  wire        s_axil_bready,
    input  wire [AXIL_ADDR-1:0] s_axil_araddr,
    input  wire [2:0]  s_axil_arprot,
    input  wire        s_axil_arvalid,
    output wire        s_axil_arready,
    output wire [31:0] s_axil_rdata,
    output wire [1:0]  s_axil_rresp,
    output wire        s_axil_rvalid,
    input  wire        s_axil_rready,
    input  wire [7:0]  s_axis_tdata,
    input  wire        s_axis_tvalid,
    output wire        s_axis_tready,
    input  wire        s_axis_tlast
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

    rtlgen_accel_device device (
        .clk(clk), .rst(rst),
        .run_busy(busy), .run_done(done), .run_start(),
        .s_axil_awaddr(s_axil_awaddr), .s_axil_awprot(s_axil_awprot), .s_axil_awvalid(s_axil_awvalid),
        .s_axil_awready(s_axil_awready),
        .s_axil_wdata(s_axil_wdata), .s_axil_wstrb(s_axil_wstrb), .s_axil_wvalid(s_axil_wvalid),
        .s_axil_wready(s_axil_wready),
        .s_axil_bresp(s_axil_bresp), .s_axil_bvalid(s_axil_bvalid), .s_axil_bready(s_axil_bready),
        .s_axil_araddr(s_axil_araddr), .s_axil_arprot(s_axil_arprot), .s_axil_arvalid(s_axil_arvalid),
        .s_axil_arready(s_axil_arready),
        .s_axil_rdata(s_axil_rdata), .s_axil_rresp(s_axil_rresp), .s_axil_rvalid(s_axil_rvalid),
        .s_axil_rready(s_axil_rready),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .s_axis_tlast(s_axis_tlast)
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
