"""Stages on RGB frames: onnxruntime sessions, the BlazeFace detector, O-Net landmarks and
the canthus geometry (embedder and QR decoding come next). Emits `edge.core` detections.

May import `edge.core`, `edge.models` (verified model files), `edge.errors`, numpy, OpenCV and
onnxruntime; never sources, transport, app or cli."""
