"""Exporters, one module per format, registered by name (see base.py for the contract).

The order here is the order of ``--to all`` and of reports.
"""

from styleport.export.base import register

register("onnx", "styleport.export.onnx:OnnxExporter")
register("ort", "styleport.export.ort:OrtExporter")
register("coreml", "styleport.export.coreml:CoreMLExporter")
register("tfjs", "styleport.export.tfjs:TFJSExporter")
register("tflite", "styleport.export.tflite:TFLiteExporter")
