"""Config test cases shared by the config tests and the CLI error-contract tests."""

from __future__ import annotations

from pathlib import Path


def write_toml(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# (TOML text, dotted key, the bad value as printed, what is allowed)
BAD_VALUES = {
    "wrong-type": (
        '[screening]\nmin_samples = "five"\n',
        "screening.min_samples",
        "'five'",
        "valid integer",
    ),
    "wrong-type-float": (
        '[screening]\nthreshold_c = "hot"\n',
        "screening.threshold_c",
        "'hot'",
        "valid number",
    ),
    "threshold-too-high": (
        "[screening]\nthreshold_c = 41.5\n",
        "screening.threshold_c",
        "41.5",
        "less than or equal to 40",
    ),
    "threshold-too-low": (
        "[screening]\nthreshold_c = 34.0\n",
        "screening.threshold_c",
        "34.0",
        "greater than or equal to 35",
    ),
    "threshold-nan": (
        "[screening]\nthreshold_c = nan\n",
        "screening.threshold_c",
        "nan",
        "finite number",
    ),
    "rotate-deg": (
        "[thermal]\nrotate_deg = 45\n",
        "thermal.rotate_deg",
        "45",
        "0, 90, 180 or 270",
    ),
    "rotate-deg-string": (
        '[thermal]\nrotate_deg = "90"\n',
        "thermal.rotate_deg",
        "'90'",
        "0, 90, 180 or 270",
    ),
    "site-slash": (
        '[gate]\nsite = "north/east"\n',
        "gate.site",
        "'north/east'",
        "letters, digits",
    ),
    "gate-wildcard": (
        '[gate]\ngate = "g+1"\n',
        "gate.gate",
        "'g+1'",
        "letters, digits",
    ),
    "broker-scheme": (
        '[mqtt]\nbroker = "http://127.0.0.1:1883"\n',
        "mqtt.broker",
        "'http://127.0.0.1:1883'",
        "mqtt://",
    ),
    "window-too-big": (
        "[screening]\nwindow_px = 11\n",
        "screening.window_px",
        "11",
        "less than or equal to 9",
    ),
    "reference-temp-range": (
        "[thermal.reference]\ntemp_c = 80.0\n",
        "thermal.reference.temp_c",
        "80.0",
        "less than or equal to 60",
    ),
    "reference-roi-missing": (
        '[thermal.reference]\nmode = "roi"\n',
        "thermal.reference.roi",
        "None",
        "required when mode = 'roi'",
    ),
}

# Config that used to pass `check` but that the gate could not use (issue 9, item 5); the
# README's "Bad config" table lists each with its message. Same shape as BAD_VALUES.
H_GOOD = "[[0.272, -0.0036, -9.88], [0.0037, 0.270, -4.39], [1.5e-05, -1.0e-05, 1.0]]"
UNUSABLE = {
    "homography-nan": (
        "[registration]\nrgb_to_thermal = [[0.272, -0.0036, nan], [0.0037, 0.270, -4.39], "
        "[1.5e-05, -1.0e-05, 1.0]]\n",
        "registration.rgb_to_thermal[0][2]",
        "nan",
        "Input should be a finite number",
    ),
    "homography-inf": (
        "[registration]\nrgb_to_thermal = [[0.272, -0.0036, -9.88], [0.0037, inf, -4.39], "
        "[1.5e-05, -1.0e-05, 1.0]]\n",
        "registration.rgb_to_thermal[1][1]",
        "inf",
        "Input should be a finite number",
    ),
    "homography-singular": (  # row 2 = 2 x row 1
        "[registration]\nrgb_to_thermal = [[0.272, -0.0036, -9.88], [0.544, -0.0072, -19.76], "
        "[1.5e-05, -1.0e-05, 1.0]]\n",
        "registration.rgb_to_thermal",
        "[[0.272, -0.0036, -9.88], [0.544, -0.0072, -19.76], [1.5e-05, -1e-05, 1.0]]",
        "must be an invertible homography: condition number",
    ),
    "homography-transposed": (  # the line at infinity crosses the RGB frame
        "[registration]\nrgb_to_thermal = [[0.272, 0.0037, 1.5e-05], [-0.0036, 0.270, -1.0e-05], "
        "[-9.88, -4.39, 1.0]]\n",
        "registration.rgb_to_thermal",
        "[[0.272, 0.0037, 1.5e-05], [-0.0036, 0.27, -1e-05], [-9.88, -4.39, 1.0]]",
        "maps the RGB frame's corner (639, 0) to infinity or behind the horizon",
    ),
    "homography-h22-zero": (
        "[registration]\nrgb_to_thermal = [[0.272, -0.0036, -9.88], [0.0037, 0.270, -4.39], "
        "[1.5e-05, -1.0e-05, 0.0]]\n",
        "registration.rgb_to_thermal",
        "[[0.272, -0.0036, -9.88], [0.0037, 0.27, -4.39], [1.5e-05, -1e-05, 0.0]]",
        "maps the RGB frame's corner (0, 0) to infinity (H[2][2] = 0)",
    ),
    "flush-timeout-inf": (
        "[mqtt]\nflush_timeout_s = inf\n",
        "mqtt.flush_timeout_s",
        "inf",
        "Input should be a finite number",
    ),
    "flush-timeout-huge": (
        "[mqtt]\nflush_timeout_s = 1e300\n",
        "mqtt.flush_timeout_s",
        "1e+300",
        "less than or equal to 86400",
    ),
    "ambient-minus-inf": (
        "[screening]\nambient_c = -inf\n",
        "screening.ambient_c",
        "-inf",
        "Input should be a finite number",
    ),
    "min-samples-above-decide": (
        "[screening]\nmin_samples = 12\ndecide_samples = 9\n",
        "screening.min_samples",
        "12",
        "must be at most screening.decide_samples = 9",
    ),
    "min-samples-above-default-decide": (
        "[screening]\nmin_samples = 10\n",
        "screening.min_samples",
        "10",
        "must be at most screening.decide_samples = 9",
    ),
    "min-face-px-huge": (
        "[detect]\nmin_face_px = 100000\n",
        "detect.min_face_px",
        "100000",
        "less than or equal to 512",
    ),
    "reference-roi-outside-any-sensor": (
        '[thermal.reference]\nmode = "roi"\nroi = [600, 20, 60, 5]\n',
        "thermal.reference.roi",
        "[600, 20, 60, 5]",
        "must lie inside the largest supported sensor, 640x512 (x + w <= 640, y + h <= 512)",
    ),
    "min-samples-string": (
        '[screening]\nmin_samples = "5"\n',
        "screening.min_samples",
        "'5'",
        "Input should be a valid integer, not a string (no conversion)",
    ),
    "min-samples-bool": (
        "[screening]\nmin_samples = true\n",
        "screening.min_samples",
        "True",
        "Input should be a valid integer, not true/false (no conversion)",
    ),
    "min-samples-float": (
        "[screening]\nmin_samples = 5.0\n",
        "screening.min_samples",
        "5.0",
        "Input should be a valid integer",
    ),
    "threshold-string-number": (
        '[screening]\nthreshold_c = "37.5"\n',
        "screening.threshold_c",
        "'37.5'",
        "Input should be a valid number, not a string (no conversion)",
    ),
    "threshold-bool": (
        "[screening]\nthreshold_c = true\n",
        "screening.threshold_c",
        "True",
        "Input should be a valid number, not true/false (no conversion)",
    ),
    "rotate-deg-float": (
        "[thermal]\nrotate_deg = 90.0\n",
        "thermal.rotate_deg",
        "90.0",
        "Input should be 0, 90, 180 or 270",
    ),
    "rotate-deg-bool": (
        "[thermal]\nrotate_deg = false\n",
        "thermal.rotate_deg",
        "False",
        "Input should be 0, 90, 180 or 270",
    ),
    "loop-string": (
        '[source]\nloop = "yes"\n',
        "source.loop",
        "'yes'",
        "Input should be a valid boolean",
    ),
}
