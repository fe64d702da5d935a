"""LiteRT's own conv outputs for ResNet-8 (test helper): an oracle independent of the emulator.

Runs the int8 model with LiteRT's reference kernels on one CIFAR-10 image, every intermediate
tensor kept, and returns each CONV_2D's output tensor in graph order.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def litert_conv_outputs(shared_data: Path, image: int = 0) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = shared_data / "mlperf_tiny_resnet8" / "pretrainedResnet_quant.tflite"
    x = np.load(shared_data / "cifar10" / "cifar10_test_first1017.npz")["x"][image]
    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], (x.astype(np.int16) - 128).astype(np.int8)[None])
    it.invoke()
    return [it.get_tensor(op["outputs"][0])[0] for op in it._get_ops_details()
            if op["op_name"] == "CONV_2D"]
