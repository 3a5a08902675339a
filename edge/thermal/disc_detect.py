"""Single-window disc detection: multi-scale centre-surround proposals, then every test on a
(K, P, P) stack of patches around the K best proposals. Used by `edge.thermal.disc`.

No Python loop runs over pixels: a proposal is a handful of `cv2.filter2D` calls per radius
hypothesis (7), the tests are array reductions over the patch stack (K <= 32, P = 35). Means
are normalised by the count of in-frame pixels under each kernel, so a candidate's centre may
lie outside the frame (a disc cut by the frame edge) and it is judged on what is visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge.thermal.disc_params import N_SECTORS, DiscParams

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
Idx = npt.NDArray[np.intp]

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Candidates:
    """K tested candidates, every array (K,). Centres in frame pixels (may be outside).

    r: the radius hypothesis that proposed it; r_half: radius of the circle that best fits
    the half-level region; visible: share of the core inside the frame; fit: how well it
    explains what is visible, contrast x roundness IoU / (spatial + temporal noise + 0.05 C);
    score: fit x sqrt(visible) when it passed every test, else -inf; failed: names of the
    tests it failed ("" when it passed)."""

    cx: npt.NDArray[np.int64]
    cy: npt.NDArray[np.int64]
    r: F64
    r_half: F64
    mean_c: F64
    contrast_c: F64
    visible: F64
    fit: F64
    ok: Bool
    score: F64
    failed: tuple[str, ...]

    @property
    def count(self) -> int:
        return int(self.cx.size)


@dataclass(frozen=True, slots=True)
class _Patches:
    """(K, P, P) stacks around K centres: mean, temporal std, in-frame; d = distance (1,P,P)."""

    mean: F64
    tstd: F64
    valid: Bool
    d: F64
    r: F64  # (K,) radius hypotheses


def _ring_kernel(r_in: float, r_out: float) -> F32:
    """Pixels whose centre lies r_in..r_out from the kernel centre (a disc when r_in = 0)."""
    half = int(np.ceil(r_out))
    yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
    d = np.hypot(yy, xx)
    return np.asarray((d >= r_in) & (d <= r_out), np.float32)


def _filter(img: F32, kernel: F32) -> F32:
    return np.asarray(cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_CONSTANT), np.float32)


def _pad(img: npt.NDArray[np.floating], pad: int) -> npt.NDArray[np.floating]:
    """Zeros around the frame: outside the frame counts as no pixel (the valid map is 0)."""
    out = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
    return np.asarray(out, img.dtype)


def _per_bin(mask: Bool, values: F64 | None, bin_of: Idx, bins: int) -> tuple[F64, F64]:
    """Per candidate and bin (bin_of: (P, P) bin of each patch pixel): the count of masked
    pixels and the sum of their values, each (K, bins). One bincount, no (K, bins, P, P)."""
    k = mask.shape[0]
    idx = (np.arange(k)[:, None, None] * bins + bin_of[None]).ravel()
    weights = mask.ravel().astype(np.float64)
    n = np.asarray(np.bincount(idx, weights, k * bins), np.float64).reshape(k, bins)
    if values is None:
        return n, n
    sums = np.asarray(np.bincount(idx, (mask * values).ravel(), k * bins), np.float64)
    return n, sums.reshape(k, bins)


def _masked_mean(values: F64, mask: Bool, axes: tuple[int, ...]) -> F64:
    return np.asarray((values * mask).sum(axes) / np.maximum(mask.sum(axes), 1), np.float64)


class DiscDetector:
    """Detects disc candidates in one (window-mean, window-std) pair. Stateless apart from
    kernels and per-frame-shape pixel counts cached on first use."""

    def __init__(self, params: DiscParams) -> None:
        self.p = params
        r_max = max(params.radii_px)
        self.reach = int(np.ceil(r_max + params.ann_out_px)) + 1  # patch half-size
        # Proposals are computed up to `margin` px outside the frame: a centre farther out
        # leaves no core pixel in view. Patches for the tests need `reach` more.
        self.margin = int(np.ceil(params.core_radius(r_max))) + 1
        self.pad = self.margin + self.reach
        # Each kernel only as large as its shape: filter2D cost grows with kernel area.
        self.core_k = [_ring_kernel(0.0, params.core_radius(r)) for r in params.radii_px]
        self.ann_k = [
            _ring_kernel(r + params.ann_in_px, r + params.ann_out_px) for r in params.radii_px
        ]
        yy, xx = np.mgrid[-self.reach : self.reach + 1, -self.reach : self.reach + 1]
        self.dy, self.dx = yy.astype(np.intp), xx.astype(np.intp)
        self.d = np.hypot(yy, xx)[None].astype(np.float64)  # (1, P, P)
        angle = np.arctan2(yy, xx)
        self.sector = ((angle + np.pi) / (2 * np.pi) * N_SECTORS).astype(np.intp) % N_SECTORS
        # Circles for the roundness fit, every 0.5 px up to the largest disc. A pixel lies in
        # circle j exactly when its bin <= j, so counts in all circles are one cumulative sum.
        self.fit_r = np.arange(1.5, r_max + 3.0, 0.5)
        self.fit_bin = np.searchsorted(self.fit_r, self.d[0], side="left").astype(np.intp)
        self._shape: tuple[int, int] | None = None
        self._valid = np.zeros((0, 0), np.bool_)
        self._n_core: list[F32] = []
        self._n_ann: list[F32] = []

    def _prepare(self, shape: tuple[int, int]) -> None:
        """In-frame pixel counts under every kernel at every proposal position (per shape)."""
        if self._shape == shape:
            return
        self._shape = shape
        valid = _pad(np.ones(shape, np.float32), self.margin)
        self._n_core = [_filter(valid, k) for k in self.core_k]
        self._n_ann = [_filter(valid, k) for k in self.ann_k]
        self._valid = _pad(np.ones(shape, np.float32), self.pad) > 0

    def _response(self, m: F32, m2: F32, i: int) -> F32:
        """Core mean minus annulus mean, penalised by twice the core's spatial std."""
        n_core, n_ann = self._n_core[i], self._n_ann[i]
        core_k, ann_k = self.core_k[i], self.ann_k[i]
        mean_core = _filter(m, core_k) / np.maximum(n_core, _EPS)
        var_core = _filter(m2, core_k) / np.maximum(n_core, _EPS) - mean_core * mean_core
        mean_ann = _filter(m, ann_k) / np.maximum(n_ann, _EPS)
        resp = mean_core - mean_ann - 2.0 * np.sqrt(np.maximum(var_core, 0.0))
        enough = (n_core >= self.p.min_visible_frac * float(core_k.sum())) & (
            n_ann >= 0.25 * float(ann_k.sum()))
        return np.where(enough, resp, np.float32(-1e9)).astype(np.float32)

    def propose(self, mean_c: F32) -> tuple[Idx, Idx, Idx]:
        """Candidate (row, col, radius index) in frame pixels, best response first.

        Local maxima (5x5) at each scale: a disc in a housing peaks at its own scale even
        where the disc-plus-housing blob responds more strongly at a larger one."""
        self._prepare((int(mean_c.shape[0]), int(mean_c.shape[1])))
        # Centred on the median so float32 sums of squares lose nothing that matters.
        m = _pad((mean_c - np.float32(np.median(mean_c))).astype(np.float32), self.margin)
        m2 = m * m
        box = np.ones((5, 5), np.uint8)
        found: list[tuple[Idx, Idx, Idx, F32]] = []
        for i in range(len(self.p.radii_px)):  # 7 scales, a few filters each
            resp = self._response(m, m2, i)
            peak = (resp >= cv2.dilate(resp, box)) & (resp >= 0.5 * self.p.min_contrast_c)
            ys, xs = np.nonzero(peak)
            found.append((ys, xs, np.full(ys.size, i, np.intp), resp[ys, xs]))
        ys, xs, ri, val = (np.concatenate(parts) for parts in zip(*found, strict=True))
        order = np.argsort(-val, kind="stable")[: self.p.max_candidates]
        return ys[order] - self.margin, xs[order] - self.margin, ri[order]

    def _patches(self, mean_c: F32, tstd_c: F32, ys: Idx, xs: Idx, ri: Idx) -> _Patches:
        m = _pad(mean_c.astype(np.float64), self.pad)
        t = _pad(tstd_c.astype(np.float64), self.pad)
        iy = ys[:, None, None] + self.pad + self.dy[None]
        ix = xs[:, None, None] + self.pad + self.dx[None]
        radii = np.asarray(self.p.radii_px, np.float64)[ri]
        return _Patches(m[iy, ix], t[iy, ix], self._valid[iy, ix], self.d, radii)

    def evaluate(self, mean_c: F32, tstd_c: F32, ys: Idx, xs: Idx, ri: Idx) -> Candidates:
        """Every test for K proposals (frame pixels, centres possibly outside) at once."""
        pt = self._patches(mean_c, tstd_c, ys, xs, ri)
        p, d, r = self.p, pt.d, pt.r[:, None, None]
        core_all = d <= p.core_radius_array(pt.r)[:, None, None]
        core = core_all & pt.valid
        visible = core.sum((1, 2)) / np.maximum(core_all.sum((1, 2)), 1)
        mu = _masked_mean(pt.mean, core, (1, 2))
        sd = np.sqrt(np.maximum(_masked_mean(pt.mean**2, core, (1, 2)) - mu**2, 0.0))
        tstd = _masked_mean(pt.tstd, core, (1, 2))
        ann = (d >= r + p.ann_in_px) & (d <= r + p.ann_out_px) & pt.valid
        ann_mu = _masked_mean(pt.mean, ann, (1, 2))
        contrast = mu - ann_mu
        cold_frac = self._cold_sectors(pt, ann, mu)
        iou, r_half = self._roundness(pt, (mu + ann_mu) / 2.0)
        sharp, rim_tstd = self._rim(pt, r_half, contrast)
        tests = {
            "visible": visible >= p.min_visible_frac,
            # A cut disc shows fewer pixels and less of its shape: ask for more contrast.
            "contrast": contrast >= p.min_contrast_c + p.cut_contrast_c * (1.0 - visible),
            # Flat top, absolutely and relative to the step: a smooth warm ramp into a corner
            # also stands above a nearby annulus, but its core is as sloped as its rim.
            "flat": (sd <= p.max_core_std_c)
            & (sd <= np.maximum(p.core_std_floor_c, p.max_core_std_rel * contrast)),
            "still": tstd <= p.max_temporal_std_c,
            "rim still": rim_tstd <= p.max_rim_tstd_c,
            "sectors": cold_frac >= p.min_cold_sector_frac,
            "round": iou >= p.min_iou,
            "size": r_half >= p.min_radius_px,
            "sharp": sharp >= p.min_sharpness,
            "range": (mu >= p.plausible_c[0]) & (mu <= p.plausible_c[1]),
        }
        fit = contrast * iou / (sd + tstd + 0.05)
        return _verdict(tests, ys, xs, pt.r, r_half, mu, contrast, visible, fit)

    def _cold_sectors(self, pt: _Patches, ann: Bool, mu: F64) -> F64:
        """Share of annulus sectors (with >= 3 in-frame pixels) clearly colder than the core:
        a disc is colder all round; a face's hot canthus patch has warm skin on most sides."""
        n, sums = _per_bin(ann, pt.mean, self.sector, N_SECTORS)  # (K, S) each
        sec_mu = sums / np.maximum(n, 1)
        usable = n >= 3
        cold = usable & (mu[:, None] - sec_mu >= 0.5 * self.p.min_contrast_c)
        frac = cold.sum(1) / np.maximum(usable.sum(1), 1)
        return np.asarray(np.where(usable.sum(1) >= 3, frac, 0.0), np.float64)

    def _roundness(self, pt: _Patches, half_c: F64) -> tuple[F64, F64]:
        """IoU of the half-level region with the best-fitting circle (in-frame pixels only),
        and that circle's radius."""
        reach = (pt.r + self.p.ann_in_px + 1.0)[:, None, None]
        region = (pt.mean >= half_c[:, None, None]) & pt.valid & (pt.d <= reach)
        bins = self.fit_r.size + 1  # the last bin: beyond every circle
        in_circle = _per_bin(pt.valid, None, self.fit_bin, bins)[0][:, :-1].cumsum(1)
        inter = _per_bin(region, None, self.fit_bin, bins)[0][:, :-1].cumsum(1)  # (K, R)
        union = in_circle + region.sum((1, 2))[:, None] - inter  # region lies in the frame
        iou = inter / np.maximum(union, 1)
        return iou.max(1), self.fit_r[iou.argmax(1)]

    def _rim(self, pt: _Patches, r_half: F64, contrast: F64) -> tuple[F64, F64]:
        """Rim sharpness and rim stillness at the fitted radius.

        Sharpness: the step between 1-2 px inside and 1-2 px outside the rim over the
        contrast; a heated disc is a step blurred only by the optics (10-90% in ~3 px on the
        kiosks), a warm patch of a housing or a wall is a smooth slope. Stillness: the median
        temporal std on the rim band; the disc's steep rim never moves, a head's outline sways
        a fraction of a pixel and its steep edge turns that into tenths of a degree."""
        rh, d = r_half[:, None, None], pt.d
        inside = (d >= rh - 2.0) & (d <= rh - 1.0) & pt.valid
        outside = (d >= rh + 1.0) & (d <= rh + 2.0) & pt.valid
        step = _masked_mean(pt.mean, inside, (1, 2)) - _masked_mean(pt.mean, outside, (1, 2))
        sharp = step / np.maximum(contrast, 1e-6)
        rim = ((d >= rh - 1.5) & (d <= rh + 1.5) & pt.valid).reshape(len(r_half), -1)
        # Median of each row's rim pixels: sorted with the rest pushed to +inf (a candidate
        # without rim pixels reads inf and fails).
        ranked = np.sort(np.where(rim, pt.tstd.reshape(rim.shape), np.inf), axis=1)
        n = rim.sum(1)
        rows = np.arange(len(n))
        lo, hi = np.maximum(n - 1, 0) // 2, n // 2
        rim_tstd = np.where(n > 0, (ranked[rows, lo] + ranked[rows, hi]) / 2.0, np.inf)
        return np.asarray(sharp, np.float64), np.asarray(rim_tstd, np.float64)

    def detect(self, mean_c: F32, tstd_c: F32) -> Candidates:
        """Proposals, tests and one answer per place: a passing candidate loses to a passing
        one within 3 px that fits better (the same disc seen at two radius hypotheses). Fit,
        not score: a disc cut by the frame edge must not lose to a smaller, wholly visible
        reading of its own visible part."""
        ys, xs, ri = self.propose(mean_c)
        if ys.size == 0:
            return _empty()
        c = self.evaluate(mean_c, tstd_c, ys, xs, ri)
        near = np.hypot(c.cx[:, None] - c.cx[None], c.cy[:, None] - c.cy[None]) <= 3.0
        fit = np.where(c.ok, c.fit, -np.inf)
        beaten = (near & (fit[None] > fit[:, None])).any(1)
        ok = c.ok & ~beaten
        failed = tuple(f or ("beaten" if b else "") for f, b in zip(c.failed, beaten, strict=True))
        return Candidates(c.cx, c.cy, c.r, c.r_half, c.mean_c, c.contrast_c, c.visible, c.fit,
                          ok, np.where(ok, c.score, -np.inf), failed)


def _verdict(tests: dict[str, Bool], cy: Idx, cx: Idx, r: F64, r_half: F64, mu: F64,
             contrast: F64, visible: F64, fit: F64) -> Candidates:
    """Combine the named tests; score = fit x sqrt(visible): between places, a disc in full
    view is preferred to an equally good one cut by the edge."""
    ok = np.logical_and.reduce(list(tests.values()))
    names = np.array(list(tests))
    passed = np.stack(list(tests.values()), 1)  # (K, T)
    failed = tuple(",".join(names[~row]) for row in passed)
    score = fit * np.sqrt(visible)
    return Candidates(cx.astype(np.int64), cy.astype(np.int64), r, r_half, mu, contrast,
                      visible, fit, ok, np.where(ok, score, -np.inf), failed)


def _empty() -> Candidates:
    e = np.zeros(0, np.float64)
    i = np.zeros(0, np.int64)
    return Candidates(i, i, e, e, e, e, e, e, np.zeros(0, np.bool_), e, ())
