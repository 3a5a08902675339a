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


def _masked_mean(values: F64, mask: Bool, axes: tuple[int, ...]) -> F64:
    return np.asarray((values * mask).sum(axes) / np.maximum(mask.sum(axes), 1), np.float64)


class DiscDetector:
    """Detects disc candidates in one (window-mean, window-std) pair. Stateless apart from
    kernels and per-frame-shape pixel counts cached on first use."""

    def __init__(self, params: DiscParams) -> None:
        self.p = params
        r_max = max(params.radii_px)
        self.reach = int(np.ceil(r_max + params.ann_out_px)) + 1  # patch half-size
        self.pad = 2 * self.reach  # room for centres up to `reach` outside the frame
        # Each kernel only as large as its shape: filter2D cost grows with kernel area.
        self.core_k = [_ring_kernel(0.0, params.core_radius(r)) for r in params.radii_px]
        self.ann_k = [
            _ring_kernel(r + params.ann_in_px, r + params.ann_out_px) for r in params.radii_px
        ]
        yy, xx = np.mgrid[-self.reach : self.reach + 1, -self.reach : self.reach + 1]
        self.dy, self.dx = yy.astype(np.intp), xx.astype(np.intp)
        self.d = np.hypot(yy, xx)[None].astype(np.float64)  # (1, P, P)
        angle = np.arctan2(yy, xx)
        sector = ((angle + np.pi) / (2 * np.pi) * N_SECTORS).astype(np.intp) % N_SECTORS
        self.sector_1hot = (sector[None] == np.arange(N_SECTORS)[:, None, None])[None]
        # Circles for the roundness fit, every 0.5 px up to the largest disc: (1, R, P, P).
        self.fit_r = np.arange(1.5, r_max + 3.0, 0.5)
        self.fit_circles = (self.d[0][None] <= self.fit_r[:, None, None])[None]
        self._shape: tuple[int, int] | None = None
        self._valid = np.zeros((0, 0), np.float32)
        self._n_core: list[F32] = []
        self._n_ann: list[F32] = []
        self._inner = np.zeros((0, 0), np.bool_)

    def _prepare(self, shape: tuple[int, int]) -> None:
        """In-frame pixel counts under every kernel at every padded position (per shape)."""
        if self._shape == shape:
            return
        self._shape = shape
        pad, reach = self.pad, self.reach
        valid = np.zeros((shape[0] + 2 * pad, shape[1] + 2 * pad), np.float32)
        valid[pad:-pad, pad:-pad] = 1.0
        self._valid = valid
        self._n_core = [_filter(valid, k) for k in self.core_k]
        self._n_ann = [_filter(valid, k) for k in self.ann_k]
        inner = np.zeros(valid.shape, np.bool_)
        inner[reach:-reach, reach:-reach] = True  # a full patch fits around the centre
        self._inner = inner

    def _padded(self, img: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
        pad = self.pad
        out = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
        return np.asarray(out, img.dtype)

    def _response(self, m: F32, m2: F32, i: int) -> F32:
        """Core mean minus annulus mean, penalised by twice the core's spatial std."""
        n_core, n_ann = self._n_core[i], self._n_ann[i]
        core_k, ann_k = self.core_k[i], self.ann_k[i]
        mean_core = _filter(m, core_k) / np.maximum(n_core, _EPS)
        var_core = _filter(m2, core_k) / np.maximum(n_core, _EPS) - mean_core * mean_core
        mean_ann = _filter(m, ann_k) / np.maximum(n_ann, _EPS)
        resp = mean_core - mean_ann - 2.0 * np.sqrt(np.maximum(var_core, 0.0))
        enough = (
            (n_core >= self.p.min_visible_frac * float(core_k.sum()))
            & (n_ann >= 0.25 * float(ann_k.sum()))
            & self._inner
        )
        return np.where(enough, resp, np.float32(-1e9)).astype(np.float32)

    def propose(self, mean_c: F32) -> tuple[Idx, Idx, Idx]:
        """Candidate (row, col, radius index) in padded coordinates, best response first.

        Local maxima (5x5) at each scale: a disc in a housing peaks at its own scale even
        where the disc-plus-housing blob responds more strongly at a larger one."""
        self._prepare((int(mean_c.shape[0]), int(mean_c.shape[1])))
        # Centred on the median so float32 sums of squares lose nothing that matters.
        m = self._padded((mean_c - np.float32(np.median(mean_c))).astype(np.float32))
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
        return ys[order], xs[order], ri[order]

    def _patches(self, mean_c: F32, tstd_c: F32, ys: Idx, xs: Idx, ri: Idx) -> _Patches:
        m = self._padded(mean_c.astype(np.float64))
        t = self._padded(tstd_c.astype(np.float64))
        iy = ys[:, None, None] + self.dy[None]
        ix = xs[:, None, None] + self.dx[None]
        radii = np.asarray(self.p.radii_px, np.float64)[ri]
        return _Patches(m[iy, ix], t[iy, ix], self._valid[iy, ix] > 0, self.d, radii)

    def evaluate(self, mean_c: F32, tstd_c: F32, ys: Idx, xs: Idx, ri: Idx) -> Candidates:
        """Every test for K proposals at once (padded coordinates in, frame coordinates out)."""
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
        return _verdict(tests, ys - self.pad, xs - self.pad, pt.r, r_half, mu, contrast,
                        visible, fit)

    def _cold_sectors(self, pt: _Patches, ann: Bool, mu: F64) -> F64:
        """Share of annulus sectors (with >= 3 in-frame pixels) clearly colder than the core:
        a disc is colder all round; a face's hot canthus patch has warm skin on most sides."""
        masks = ann[:, None] & self.sector_1hot  # (K, S, P, P)
        n = masks.sum((2, 3))
        sec_mu = (pt.mean[:, None] * masks).sum((2, 3)) / np.maximum(n, 1)
        usable = n >= 3
        cold = usable & (mu[:, None] - sec_mu >= 0.5 * self.p.min_contrast_c)
        frac = cold.sum(1) / np.maximum(usable.sum(1), 1)
        return np.asarray(np.where(usable.sum(1) >= 3, frac, 0.0), np.float64)

    def _roundness(self, pt: _Patches, half_c: F64) -> tuple[F64, F64]:
        """IoU of the half-level region with the best-fitting circle (in-frame pixels only),
        and that circle's radius."""
        reach = (pt.r + self.p.ann_in_px + 1.0)[:, None, None]
        region = (pt.mean >= half_c[:, None, None]) & pt.valid & (pt.d <= reach)
        circles = self.fit_circles & pt.valid[:, None]  # (K, R, P, P)
        inter = (circles & region[:, None]).sum((2, 3))
        union = (circles | region[:, None]).sum((2, 3))
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
        rim = np.asarray((d >= rh - 1.5) & (d <= rh + 1.5) & pt.valid, np.bool_)
        rim_t = np.where(rim, pt.tstd, np.nan).reshape(rim.shape[0], -1)
        has_rim = np.asarray(rim.reshape(rim.shape[0], -1).any(1), np.bool_)
        # A row without rim pixels reads inf (fails), so no row is all-NaN.
        rim_tstd = np.nanmedian(np.where(has_rim[:, None], rim_t, np.inf), 1)
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
