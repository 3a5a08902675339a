"""Simulators with ground truth: thermal-only and RGB + thermal scenes written as labelled
recordings (`thermal`, `rgb`, their plans and specs), the face library they composite, the
identity roles of RGB scenes (`cast`: enrolled residents, quarantined residents, strangers, and
the enrolment plan; visitors too), people holding QR passes up to the camera (`passes`: the
cases and the decisions they must cause; `qr_card`, `rgb_passes`: the card or phone in both
cameras' frames, from QR modules the caller made: the simulator never signs), and `broker`,
a private Mosquitto for tests and the demo.

May import `edge.core`, `edge.sources` (the recording writer), `edge.vision` and
`edge.errors`; never the pipeline, transport, app or cli. A simulator models the scene
physically and borrows no pipeline convention: thermal frames are a supersampled focal-plane
field through a lens PSF and the sensor pixels, and the canthus hot spots are placed and sized
by anthropometry (`optics`, shared by `thermal_paint` and `rgb_scene`), so a pipeline that
reads them correctly has earned it.
"""
