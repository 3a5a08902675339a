"""Stages on RGB frames: onnxruntime sessions, the BlazeFace detector, O-Net landmarks, the
canthus geometry, dlib face-chip alignment, the face embedder and QR decoding (`qr`, zxing-cpp).
Emits `edge.core` detections, face descriptors and QR payloads with their positions.

May import `edge.core`, `edge.models` (verified model files), `edge.errors`, numpy, OpenCV,
onnxruntime and zxing-cpp; never sources, transport, app or cli."""
