"""Exporters, one module per format, registered by name (see base.py for the contract)."""

from styleport.export.base import register

register("tfjs", "styleport.export.tfjs:TFJSExporter")
register("tflite", "styleport.export.tflite:TFLiteExporter")
register("onnx", "styleport.export.onnx:OnnxExporter")
register("coreml", "styleport.export.coreml:CoreMLExporter")
register("ort", "styleport.export.ort:OrtExporter")
