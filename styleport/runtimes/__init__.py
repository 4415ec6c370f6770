"""Runtimes, one module per engine, registered by name (see base.py for the interface)."""

from styleport.runtimes.base import register

register("torch", "styleport.runtimes.torch:TorchRuntime")
register("onnxruntime", "styleport.runtimes.onnxruntime:OnnxRuntime")
register("coreml", "styleport.runtimes.coreml:CoreMLRuntime")
register("tfjs-node", "styleport.runtimes.tfjs_node:TFJSNodeRuntime")
register("litert", "styleport.runtimes.litert:LiteRTRuntime")
