"""Reading a small hot spot at its peak, without letting a defective pixel raise an alarm.

The screening features are maxima (the FDA study's `canthiMax` and `T_Max`): the inner
canthus is the warmest facial spot, and at gate distances it covers about one thermal pixel.
A local mean over a 3x3 window spreads such a spot over nine pixels and reads it 0.5 to
1.5 C low, so a fever reads as normal. Instead:

1. Defective pixels are rejected by physics, not by smoothing: a lens cannot image anything
   sharper than its point-spread function, so a real hot spot always lifts its neighbours
   (by at least ~20 % of its own excess for a spot of sigma 0.5 px integrated over square
   pixels), while a stuck or noisy pixel stands alone. A pixel warmer than its local
   background by more than `noise_floor_c` whose hottest neighbour carries less than
   `support_ratio` of that excess is replaced by its hottest neighbour's value.
2. The peak of a spot is interpolated between pixels: around the hottest (clean) pixel the
   spot is close to a Gaussian, whose logarithm is a parabola, so three pixels per axis give
   the continuous peak (Gaussian sub-pixel interpolation, as in star-centroiding and PIV).
   A spot centred on a pixel corner reads up to 60 % of its excess low on the pixel grid;
   the interpolation recovers it. No imaged spot is narrower than the optics allow
   (`min_sigma_px`), which bounds the gain: at most e^(1 / (4 sigma^2)), for a spot of that
   sigma centred on a pixel corner, so noise on a flat
   patch cannot invent a peak.

All faces at once: one dilation, one median filter and one mask over the frame, then a
gather of 5 values per face. float32 throughout.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
_RING = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], np.uint8)
_MIN_EXCESS_C = 0.02  # below this over the background, log-interpolation is noise
_RING_DY, _RING_DX = np.mgrid[-4:5, -4:5]
_RING_R = np.hypot(_RING_DX, _RING_DY)
_RING_OFFSETS = np.stack(
    [_RING_DX[(_RING_R >= 2.5) & (_RING_R <= 3.5)], _RING_DY[(_RING_R >= 2.5) & (_RING_R <= 3.5)]],
    axis=1,
)  # (K, 2) dx, dy


@dataclass(frozen=True, slots=True)
class PeakParams:
    support_ratio: float = 0.1  # hottest neighbour's share of a pixel's excess, at least
    noise_floor_c: float = 0.25  # excess below this is never called a defect (sensor noise)
    # Interpolate only spots at most this wide (sigma, px): a wider spot loses little to the
    # pixel grid, and on a flat top three noisy pixels do not describe a peak. The bound
    # also caps what noise can add: ln-gain = d^2 / (8 k) with k >= 1 / max_sigma_px^2.
    max_sigma_px: float = 2.5
    # No imaged spot is narrower than the optics allow (diffraction at f/1 in 8-14 um light
    # alone spreads a point over about a pixel): where one neighbour has fallen below
    # `tiny_share` of the centre's excess, the spot is taken to be this narrow, and its peak
    # is placed from the centre and the other neighbour.
    min_sigma_px: float = 0.5
    tiny_share: float = 0.1
    # A flat top is read as the mean of the hottest pixel and the neighbours that belong to
    # the same top (less than this share of its excess below it): the hottest of several
    # equal pixels is the one whose noise came out highest, and reading it alone would bias
    # every reading up by about one noise sigma.
    flat_share: float = 0.25
    # The pixel two out on a spot's brighter side has dropped by at least this share of the
    # centre's excess, or the top is taken for a wide hot area's edge and not extrapolated:
    # a hot area does not drop there at all, and with sensor noise a smaller margin lets its
    # edge pass for a peak now and then, which reads +20 % of the excess (a false fever).
    # The price: a spot of sigma 2 px centred on a pixel corner reads up to 10 % low.
    edge_drop: float = 0.35


class PeakReader:
    """Per frame: `clean(temp_c)`, then `peak_at(ys, xs)` for the hottest pixel of each face.
    One instance per pipeline (it keeps per-frame buffers)."""

    def __init__(self, params: PeakParams | None = None) -> None:
        self.params = params or PeakParams()
        self.cleaned: F32 = np.zeros((0, 0), np.float32)
        self.background: F32 = np.zeros((0, 0), np.float32)

    def clean(self, temp_c: F32) -> F32:
        """(H, W) float32 with defective (unsupported) hot pixels replaced by their hottest
        neighbour; also keeps the local background (5x5 median) for `peak_at`."""
        p = self.params
        neighbour_c = cv2.dilate(temp_c, _RING, borderType=cv2.BORDER_REPLICATE)
        self.background = np.asarray(cv2.medianBlur(temp_c, 5), dtype=np.float32)
        excess = temp_c - self.background
        support = neighbour_c - self.background
        defect = (excess > p.noise_floor_c) & (support < p.support_ratio * excess)
        self.cleaned = np.where(defect, neighbour_c, temp_c).astype(np.float32)
        return self.cleaned

    def peak_at(self, ys: npt.NDArray[np.intp], xs: npt.NDArray[np.intp]) -> F32:
        """(K,) float32 degC: the peak of the spot around each (y, x) pixel of the cleaned
        frame (normally its hottest pixel). Per axis, a narrow spot is interpolated to its
        continuous peak; a broad one (a resolved canthus, flat at the top) is averaged over
        the three pixels instead, so the noise of one pixel, picked because it is the
        hottest, does not bias the reading up. Frame-border pixels are read as they are."""
        img = self.cleaned
        h, w = img.shape
        yc, xc = np.clip(ys, 1, h - 2), np.clip(xs, 1, w - 2)
        # The skin the spot stands on: the median of a ring 2.5-3.5 px out, beyond the top
        # of any spot this interpolates (a window centred on the spot would include it).
        ring_y = np.clip(ys[:, None] + _RING_OFFSETS[:, 1], 0, h - 1)
        ring_x = np.clip(xs[:, None] + _RING_OFFSETS[:, 0], 0, w - 1)
        base = np.median(img[ring_y, ring_x], axis=1).astype(np.float32)
        centre = img[ys, xs] - base
        log_factor = np.zeros(centre.shape, np.float32)
        min_curvature = 1.0 / self.params.max_sigma_px**2
        for dy, dx in ((0, 1), (1, 0)):  # the two axes; each is one vectorised step
            lo = img[yc - dy, xc - dx] - base
            hi = img[yc + dy, xc + dx] - base
            # Two pixels out on the brighter side: a narrow spot has fallen away there, a
            # wide hot area (a plateau's edge) has not.
            side = np.where(hi >= lo, 1, -1)
            y2, x2 = np.clip(yc + 2 * dy * side, 0, h - 1), np.clip(xc + 2 * dx * side, 0, w - 1)
            beyond = img[y2, x2]
            log_factor += _axis_log_factor(
                lo, centre, hi, beyond - base, min_curvature, self.params
            )
        border = (ys != yc) | (xs != xc)
        max_log_gain = 0.25 / self.params.min_sigma_px**2  # both axes, corner phase
        log_factor = np.where(border, 0.0, np.minimum(log_factor, max_log_gain))
        peak = base + centre * np.exp(log_factor)
        return np.where(centre > _MIN_EXCESS_C, peak, img[ys, xs]).astype(np.float32)


def _axis_log_factor(
    lo: F32, centre: F32, hi: F32, beyond: F32, min_curvature: float, params: PeakParams
) -> F32:
    """ln(peak / centre) along one axis from three equally spaced excess values.

    Where the three describe a peak (all positive, centre highest), a Gaussian through them
    gives its curvature k = 1/sigma^2 and the peak's offset d from the centre pixel. The
    amplitude is then taken from the mean of the three pixels divided by what that mean is
    for this Gaussian, M(k, d), not from the centre alone: the centre was picked because
    it is the hottest, so its noise is biased up, and a mean of three carries less noise.
    On a flat top k is about 0, M about 1 and the reading is the mean; on a one-pixel spot
    between two pixels it is the continuous peak. Curvatures below `min_curvature` count
    as flat. A spot so narrow that one neighbour is lost in the noise is taken to have the
    narrowest sigma the optics allow. Both need the pixel `beyond` the brighter neighbour
    to have dropped below (1 - edge_drop) of the centre: at the edge of a wide hot area it
    has not, and extrapolating a peak there would invent a fever. Otherwise (a flat top, or
    not a peak along this axis): the centre and the neighbours less than `flat_share` of
    its excess below it, averaged.
    """
    ok = (lo > _MIN_EXCESS_C) & (hi > _MIN_EXCESS_C) & (centre >= lo) & (centre >= hi)
    l_lo = np.log(np.where(ok, lo, 1.0))
    l_c = np.log(np.where(ok, centre, 1.0))
    l_hi = np.log(np.where(ok, hi, 1.0))
    k = 2.0 * l_c - l_lo - l_hi  # 1 / sigma^2 of the Gaussian through the three points
    k_max = 1.0 / params.min_sigma_px**2
    k = np.where(k >= min_curvature, np.minimum(k, k_max), 0.0)
    d = np.where(k > 0, (l_hi - l_lo) / (2.0 * np.maximum(k, 1e-6)), 0.0)  # peak at +d px
    model = (
        np.exp(-0.5 * k * (d + 1.0) ** 2)
        + np.exp(-0.5 * k * d**2)
        + np.exp(-0.5 * k * (d - 1.0) ** 2)
    ) / 3.0  # M(k, d): mean of the three samples, peak = 1
    mean3 = np.maximum((lo + centre + hi) / 3.0, _MIN_EXCESS_C)
    fitted = np.log(mean3 / np.maximum(centre, _MIN_EXCESS_C)) - np.log(model)
    near_lo = lo >= (1.0 - params.flat_share) * centre
    near_hi = hi >= (1.0 - params.flat_share) * centre
    total = centre + np.where(near_lo, lo, 0.0) + np.where(near_hi, hi, 0.0)
    count = 1.0 + near_lo + near_hi
    flat = np.log(np.clip(total / count / np.maximum(centre, _MIN_EXCESS_C), 1e-3, 1.0))
    # One side lost in the noise: a spot of sigma min_sigma_px; its offset d toward the
    # brighter neighbour n follows from ln(c / n) = k (1 - 2 d) / 2.
    near = np.maximum(lo, hi)
    dropped = beyond < (1.0 - params.edge_drop) * centre
    tiny = (np.minimum(lo, hi) < params.tiny_share * centre) & (near <= centre) & dropped
    ratio = np.maximum(centre, _MIN_EXCESS_C) / np.maximum(near, _MIN_EXCESS_C)
    d_tiny = np.clip(0.5 - np.log(ratio) / k_max, 0.0, 0.5)
    narrowest = 0.5 * k_max * d_tiny**2
    good = centre > _MIN_EXCESS_C
    out = np.where(
        tiny & good, narrowest, np.where(ok & dropped, fitted, np.where(good, flat, 0.0))
    )
    return out.astype(np.float32)


def first_argmax_per_label(
    values: F32, labels: npt.NDArray[np.int32], label_ids: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(y, x) of the hottest pixel of each labelled region, for `label_ids` in order.

    One scatter-max over the labelled pixels, then the first pixel of each label that holds
    its label's maximum: linear in the number of face pixels, no sort.
    """
    ys, xs = np.nonzero(labels)
    lab = labels[ys, xs].astype(np.intp)
    vals = values[ys, xs]
    best = np.full(int(labels.max(initial=0)) + 1, -np.inf, dtype=np.float32)
    np.maximum.at(best, lab, vals)
    at_max = np.flatnonzero(vals == best[lab])
    uniq, first = np.unique(lab[at_max], return_index=True)
    best_y = np.zeros(best.shape[0], np.intp)
    best_x = np.zeros_like(best_y)
    best_y[uniq] = ys[at_max[first]]
    best_x[uniq] = xs[at_max[first]]
    return best_y[label_ids], best_x[label_ids]
