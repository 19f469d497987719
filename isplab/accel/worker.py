"""The accelerator worker: ``python -m isplab.accel.worker REQUEST.json``, the only code that loads vendor
libraries, always in its own process with the toolchain's environment (:meth:`Toolchains.env`).

The request names the target, the model, the input ``.npy`` files and a folder; the worker writes one
``out_<i>.npy`` per input there and ``result.json`` (compile/runtime facts, or ``error``). Its stderr carries
the runtimes' own logs, which the caller parses (the GPU runtime names its CPU-fallback ops only there).

* ``htp``: ``ai_edge_litert.aot`` compiles the model for a Snapdragon SoC with LiteRT's Qualcomm plugin
  (ops offloaded, partitions, seconds); a fully offloaded graph is one ``DISPATCH_OP`` holding a QNN
  context binary, which is wrapped in an ONNX ``EPContext`` node and run by onnxruntime's QNN execution
  provider on ``libQnnHtp.so``, Qualcomm's x86 HTP simulator.
* ``gpu``: LiteRT's ``CompiledModel`` on the GPU accelerator (WebGPU/Dawn on the Vulkan driver), with CPU
  fallback allowed so unsupported ops are reported rather than fatal; ``fp32`` sets ``enforce_f32``.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np


def _dispatch_ops(path: Path) -> tuple[list, list]:
    """The compiled model's ops and tensors (names, shapes)."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    sg = model.subgraphs[0]
    return list(sg.operators), list(sg.tensors)


def _qnn_name(name: bytes | str) -> str:
    """LiteRT's Qualcomm plugin names QNN graph tensors after the TFLite tensors, non-identifier chars as ``_``."""
    text = name.decode() if isinstance(name, bytes) else str(name)
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def _epcontext_model(context: bytes, graph: str, inputs: list, outputs: list) -> bytes:
    import onnx
    from onnx import TensorProto, helper

    def value(t) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(_qnn_name(t.name), TensorProto.FLOAT, [int(d) for d in t.shape])

    node = helper.make_node("EPContext", [_qnn_name(t.name) for t in inputs], [_qnn_name(t.name) for t in outputs],
                            name=graph, domain="com.microsoft", embed_mode=1, ep_cache_context=context,
                            main_context=1, source="QNN")
    g = helper.make_graph([node], "isplab_htp", [value(t) for t in inputs], [value(t) for t in outputs])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    return model.SerializeToString()


def run_htp(request: dict, out: Path) -> dict:
    from ai_edge_litert.aot import aot_compile
    from ai_edge_litert.aot.vendors.qualcomm import target as qualcomm
    from flatbuffers import flexbuffers

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        compiled = aot_compile.aot_compile(request["model"], output_dir=tmp, keep_going=True,
                                           target=qualcomm.Target(qualcomm.SocModel(request["soc"])))
        seconds = time.perf_counter() - start
        if compiled.failed_backends or not compiled.models_with_backend:
            reason = "; ".join(str(f[1]) for f in compiled.failed_backends)[:300] or "no compiled model"
            return {"error": f"compile failed: {reason}", "compile_seconds": seconds}
        model = compiled.models_with_backend[0][1]
        stats = model.partition_stats.subgraph_stats[0]
        result = {"ops_offloaded": stats.num_ops_offloaded, "ops_total": stats.num_total_ops,
                  "partitions": stats.num_partitions_offloaded, "compile_seconds": seconds}
        path = Path(tmp) / next(p for p in Path(tmp).iterdir() if p.suffix == ".tflite")
        ops, tensors = _dispatch_ops(path)
        if len(ops) != 1 or stats.num_ops_offloaded != stats.num_total_ops:
            result["simulated"] = False  # CPU ops between partitions: the simulator runs whole graphs only
            return result
        options = flexbuffers.Loads(bytes(ops[0].customOptions))
        data = path.read_bytes()
        context = data[options["bytecode_offset"]:options["bytecode_offset"] + options["bytecode_size"]]
    onnx_model = _epcontext_model(context, options["name"], [tensors[i] for i in ops[0].inputs],
                                  [tensors[i] for i in ops[0].outputs])
    import onnxruntime as ort
    import onnxruntime_qnn

    ort.register_execution_provider_library("QNNExecutionProvider", onnxruntime_qnn.get_library_path())
    devices = [d for d in ort.get_ep_devices() if d.ep_name == "QNNExecutionProvider"]
    so = ort.SessionOptions()
    so.add_provider_for_devices(devices[:1], {"backend_path": onnxruntime_qnn.get_qnn_htp_path()})
    session = ort.InferenceSession(onnx_model, sess_options=so)
    name = session.get_inputs()[0].name
    start = time.perf_counter()
    for i, x in enumerate(request["inputs"]):
        np.save(out / f"out_{i}.npy", session.run(None, {name: np.load(x)})[0])
    result["simulated"] = True
    result["run_seconds"] = (time.perf_counter() - start) / max(1, len(request["inputs"]))
    return result


def run_gpu(request: dict, out: Path) -> dict:
    from ai_edge_litert.compiled_model import CompiledModel
    from ai_edge_litert.hardware_accelerator import HardwareAccelerator
    from ai_edge_litert.options import CpuOptions, GpuOptions, Options

    options = Options(hardware_accelerators=HardwareAccelerator.GPU | HardwareAccelerator.CPU,
                      gpu_options=GpuOptions(enforce_f32=request["precision"] == "fp32"),
                      cpu_options=CpuOptions(num_threads=2))
    model = CompiledModel.from_file(request["model"], options=options)
    signature = next(iter(model.get_signature_list()))
    detail = next(iter(model.get_output_tensor_details(signature).values()))
    inputs, outputs = model.create_input_buffers(0), model.create_output_buffers(0)
    start = time.perf_counter()
    for i, x in enumerate(request["inputs"]):
        inputs[0].write(np.load(x))
        model.run_by_index(0, inputs, outputs)
        y = outputs[0].read(int(np.prod(detail["shape"])), np.float32).reshape(detail["shape"])
        np.save(out / f"out_{i}.npy", y)
    return {"fully_accelerated": bool(model.is_fully_accelerated()),
            "run_seconds": (time.perf_counter() - start) / max(1, len(request["inputs"]))}


RUNNERS = {"htp": run_htp, "gpu": run_gpu}


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text())
    out = Path(request["out_dir"])
    try:
        result = RUNNERS[request["target"]](request, out)
    except Exception as exc:  # reported to the caller as the verdict's error, with the runtime's message
        traceback.print_exc()
        text = str(exc).strip().replace("\n", " ")
        result = {"error": f"{exc.__class__.__name__}: {text[:400]}"}
    (out / "result.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
