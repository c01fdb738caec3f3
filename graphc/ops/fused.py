"""graphc-domain fused ops made by the fusion passes, with their ONNX export forms."""
