"""Stages on RGB frames: onnxruntime sessions, the BlazeFace detector, O-Net landmarks, the
canthus geometry, dlib face-chip alignment and the face embedder (QR decoding comes next).
Emits `edge.core` detections and face descriptors.

May import `edge.core`, `edge.models` (verified model files), `edge.errors`, numpy, OpenCV and
onnxruntime; never sources, transport, app or cli."""
