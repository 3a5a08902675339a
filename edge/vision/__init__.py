"""Face detection and landmarks on RGB frames (onnxruntime only)."""
