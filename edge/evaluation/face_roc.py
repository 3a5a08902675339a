"""The recognition threshold from measurements: genuine and impostor descriptor distances on
labelled photos, the ROC, the EER and TAR at FAR <= 0.1 % (docs/face-threshold.md).

Every photo with exactly one face is embedded along enrolment's own path
(edge.app.enrollment: read_photo, FaceAnalyzer.analyze, FaceEmbedder.embed on its landmarks);
a photo with no face or several is skipped and named. Pairs are every unordered pair of those
photos: same identity (identities.csv) = genuine, different = impostor, far more impostor
pairs than the pair lists (master.csv, face-recognition-pivot.csv) hold; their pairs are
scored too, where both photos are among the embedded ones.

A pair is accepted when its distance <= the threshold, as edge.core.identity.identify counts a
frame's vote. Shared by `gate-edge eval-faces` (prints the tables, draws the figure) and
tests/evaluation/test_face_roc.py (asserts the figures); nothing on the gate imports it.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.app.enrollment import Embedder, FaceFinder, read_photo
from edge.vision.types import LEFT_EYE, RIGHT_EYE

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

IDENTITIES_CSV = "identities.csv"
PAIR_LISTS: tuple[str, ...] = ("master.csv", "face-recognition-pivot.csv")
TARGET_FAR = 0.001  # a gate must not admit strangers: at most 1 false match in 1000 pairs
DLIB_THRESHOLD = 0.6  # dlib's documented same-person distance (99.38 % on LFW)
VOTE_FRAMES = 3  # edge.core.identity: strict majority of up to 3 frames per person
CHECK_THRESHOLDS = (0.65, 0.70, 0.75)  # where the counted FAR resolves the model's tail
TEMPLATES_PER_SUBJECT = 3  # a resident enrolled from a few photos
TAIL_QUANTILE = 0.05  # the normal model's lower tail passes through this counted quantile


@dataclass(frozen=True)
class FaceSet:
    """The embedded photos: one descriptor per photo with exactly one face."""

    files: tuple[str, ...]
    identities: tuple[str, ...]
    embeddings: F32  # (N, 128)
    eye_px: F32  # (N,) eye-centre distance in photo pixels
    skipped: tuple[tuple[str, str], ...]  # (file, why) for labelled photos not embedded


@dataclass(frozen=True)
class Pairs:
    """Distances of genuine (same identity) and impostor (different identities) pairs."""

    genuine: F64
    impostor: F64


@dataclass(frozen=True)
class ListedPairs:
    """One pair list's pairs whose photos are both embedded, split by its own label."""

    name: str
    listed: int  # rows in the file
    pairs: Pairs  # the rows whose two photos were embedded
    disagree: int  # rows whose Yes/No label contradicts identities.csv


@dataclass(frozen=True)
class Rates:
    """Accept rates of one threshold: a pair is accepted when its distance <= threshold."""

    threshold: float
    tar: float
    far: float
    false_rejects: int
    false_accepts: int


def read_identities(faces_dir: Path) -> dict[str, str]:
    """identities.csv: file -> identity group."""
    with (faces_dir / IDENTITIES_CSV).open(newline="", encoding="utf-8") as fh:
        return {row["file"]: row["identity_group"] for row in csv.DictReader(fh)}


def embed_faces(faces_dir: Path, analyzer: FaceFinder, embedder: Embedder) -> FaceSet:
    """Every photo of identities.csv with exactly one face, embedded as enrolment does."""
    who = read_identities(faces_dir)
    files: list[str] = []
    vectors: list[F32] = []
    eyes: list[float] = []
    skipped: list[tuple[str, str]] = []
    for name in sorted(who):
        image = read_photo(faces_dir / name)
        faces = analyzer.analyze(image)
        if len(faces.boxes) != 1:
            skipped.append((name, f"{len(faces.boxes)} faces"))
            continue
        marks = faces.landmarks[:1]
        eyes.append(float(np.hypot(*(marks[0, RIGHT_EYE] - marks[0, LEFT_EYE]))))
        vectors.append(embedder.embed(image, marks)[0])
        files.append(name)
    return FaceSet(
        tuple(files), tuple(who[f] for f in files),
        np.asarray(vectors, np.float32).reshape(-1, 128), np.asarray(eyes, np.float32),
        tuple(skipped),
    )


def distance_matrix(embeddings: F32) -> F64:
    """(N, N) Euclidean distances, in float64 (exact enough to rank pairs 1e-6 apart)."""
    e = np.asarray(embeddings, np.float64)
    return np.asarray(np.linalg.norm(e[:, None, :] - e[None, :, :], axis=2), np.float64)


def all_pairs(faces: FaceSet) -> Pairs:
    """Every unordered pair of the embedded photos, genuine and impostor."""
    dist = distance_matrix(faces.embeddings)
    group = np.asarray(faces.identities)
    upper = np.triu_indices(len(group), 1)
    same = (group[:, None] == group[None, :])[upper]
    d = dist[upper]
    return Pairs(np.sort(d[same]), np.sort(d[~same]))


def listed_pairs(faces: FaceSet, path: Path) -> ListedPairs:
    """The pairs of a pair list (file_x, file_y, decision Yes/No; paths reduced to the file
    name) whose two photos were embedded, labelled by the list's own decision."""
    index = {name: i for i, name in enumerate(faces.files)}
    dist = distance_matrix(faces.embeddings)
    with path.open(newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.reader(fh)][1:]
    genuine: list[float] = []
    impostor: list[float] = []
    disagree = 0
    for row in rows:
        a, b = Path(row[0].strip()).name, Path(row[1].strip()).name
        if a not in index or b not in index:
            continue
        same = row[2].strip().lower() == "yes"
        disagree += same != (faces.identities[index[a]] == faces.identities[index[b]])
        (genuine if same else impostor).append(float(dist[index[a], index[b]]))
    return ListedPairs(path.name, len(rows),
                       Pairs(np.sort(np.asarray(genuine)), np.sort(np.asarray(impostor))),
                       disagree)


def rates(pairs: Pairs, threshold: float) -> Rates:
    """TAR and FAR at `threshold` (accepted: distance <= threshold)."""
    accepted_genuine = int(np.count_nonzero(pairs.genuine <= threshold))
    false_accepts = int(np.count_nonzero(pairs.impostor <= threshold))
    n_gen, n_imp = max(pairs.genuine.size, 1), max(pairs.impostor.size, 1)
    return Rates(float(threshold), accepted_genuine / n_gen, false_accepts / n_imp,
                 int(pairs.genuine.size) - accepted_genuine, false_accepts)


def roc(pairs: Pairs) -> tuple[F64, F64, F64]:
    """(thresholds, TAR, FAR) at every distinct pair distance, ascending: the full curve."""
    thresholds = np.unique(np.concatenate([pairs.genuine, pairs.impostor]))
    tar = np.searchsorted(pairs.genuine, thresholds, side="right") / max(pairs.genuine.size, 1)
    far = np.searchsorted(pairs.impostor, thresholds, side="right") / max(pairs.impostor.size, 1)
    return thresholds, tar.astype(np.float64), far.astype(np.float64)


def threshold_at_far(pairs: Pairs, max_far: float = TARGET_FAR) -> float:
    """The largest threshold whose FAR <= max_far: just below the impostor distance that
    would be the (floor(max_far * n) + 1)-th false accept."""
    allowed = math.floor(max_far * pairs.impostor.size + 1e-9)
    if allowed >= pairs.impostor.size:
        return float("inf")
    return float(np.nextafter(pairs.impostor[allowed], -np.inf))


def equal_error(pairs: Pairs) -> tuple[float, float]:
    """(EER, threshold): where FRR = 1 - TAR meets FAR. When genuine and impostor distances do
    not overlap the EER is 0, at the middle of the gap between them."""
    if pairs.genuine.size and pairs.impostor.size and pairs.genuine[-1] < pairs.impostor[0]:
        return 0.0, float((pairs.genuine[-1] + pairs.impostor[0]) / 2)
    thresholds, tar, far = roc(pairs)
    frr = 1.0 - tar
    i = int(np.argmin(np.abs(frr - far)))
    return float((frr[i] + far[i]) / 2), float(thresholds[i])


def separation(pairs: Pairs) -> float:
    """d' = (mean impostor - mean genuine) / sqrt of the mean of the two variances: how far
    apart the two distance distributions are over every pair, so a small regression (colour
    channels swapped, a misplaced chip, blur) moves it even where no pair crosses."""
    g, i = pairs.genuine, pairs.impostor
    return float((i.mean() - g.mean()) / math.sqrt((i.var() + g.var()) / 2.0))


def normal_far(impostor: F64, threshold: float, tail: float | None = TAIL_QUANTILE) -> float:
    """Per-pair FAR of a normal model of the impostor distances: an extrapolation below the
    1 / n resolution of the counted FAR (a model, not a measurement).

    tail=None fits mean and sd. The impostor distances are skewed towards small values (a few
    look-alike pairs), so that fit under-reads the lower tail where it can be checked; the
    default `tail` fit is centred on the median and passes through the counted `tail`
    quantile, which follows the counted FAR there (docs/face-threshold.md).
    """
    if tail is None:
        centre, sd = float(np.mean(impostor)), float(np.std(impostor, ddof=1))
    else:
        centre = float(np.median(impostor))
        sd = (centre - float(np.quantile(impostor, tail))) / _normal_quantile(1.0 - tail)
    return 0.5 * math.erfc((centre - threshold) / (sd * math.sqrt(2.0)))


def model_threshold(impostor: F64, max_far: float = TARGET_FAR,
                    templates: int = TEMPLATES_PER_SUBJECT) -> float:
    """The largest threshold at which a stranger's frame matches one resident enrolled with
    `templates` templates with probability <= max_far, by the tail-fit normal model."""
    centre = float(np.median(impostor))
    sd = (centre - float(np.quantile(impostor, TAIL_QUANTILE))) / _normal_quantile(
        1.0 - TAIL_QUANTILE)
    pair_far = 1.0 - (1.0 - max_far) ** (1.0 / templates)
    return centre + sd * _normal_quantile(pair_far)


def _normal_quantile(p: float) -> float:
    """The standard normal's p-quantile (bisection on erfc: no scipy on the gate)."""
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 0.5 * math.erfc(-mid / math.sqrt(2.0)) < p else (lo, mid)
    return (lo + hi) / 2


def vote_rate(frame_rate: float, frames: int = VOTE_FRAMES) -> float:
    """Probability that a strict majority of `frames` independent frames is accepted when each
    is with probability `frame_rate` (edge.core.identity's vote; independence is the
    optimistic case for strangers: frames of one face are correlated, and fully correlated
    frames keep the per-frame rate)."""
    need = frames // 2 + 1
    return float(sum(math.comb(frames, k) * frame_rate**k * (1 - frame_rate) ** (frames - k)
                     for k in range(need, frames + 1)))


def gallery_far(pair_far: float, subjects: int,
                templates: int = TEMPLATES_PER_SUBJECT) -> tuple[float, float]:
    """A stranger's false-match chance against a gallery of `subjects` with `templates` each,
    every template independently within the threshold with `pair_far`: (per frame: some
    template matches; per person: a strict majority of VOTE_FRAMES independent frames match
    one subject). Frames of one face are correlated, so the person's true rate lies between
    the two: fully correlated frames keep the per-frame rate."""
    subject = 1.0 - (1.0 - pair_far) ** templates
    frame = 1.0 - (1.0 - subject) ** subjects
    person = 1.0 - (1.0 - vote_rate(subject)) ** subjects
    return frame, person


def summary_lines(faces: FaceSet, pairs: Pairs, listed: Sequence[ListedPairs],
                  thresholds: Sequence[float]) -> list[str]:
    """The report as Markdown lines: photos, pair counts, EER, TAR at FAR <= 0.1 % and the
    rates at each of `thresholds`, for all pairs and for each pair list."""
    n_imp = pairs.impostor.size
    lines = [
        f"photos embedded: {len(faces.files)} of {len(faces.files) + len(faces.skipped)}, "
        f"{len(set(faces.identities))} identities; skipped: "
        + (", ".join(f"{f} ({why})" for f, why in faces.skipped) or "none"),
        f"eye distance px: min {float(faces.eye_px.min()):.0f}, median "
        f"{float(np.median(faces.eye_px)):.0f}",
        f"separation d' (all pairs): {separation(pairs):.2f}",
        f"impostor pairs: {n_imp}, so one false accept is a FAR of {1 / max(n_imp, 1):.2%}; "
        f"FAR <= {TARGET_FAR:.1%} allows {math.floor(TARGET_FAR * n_imp + 1e-9)}",
        "",
        "| pairs | genuine | impostor | max genuine | min impostor | EER (at) "
        "| FAR <= 0.1 %: threshold, TAR | " + " | ".join(f"TAR / FAR at {t:.2f}"
                                                         for t in thresholds) + " |",
        "|---" * (7 + len(thresholds)) + "|",
    ]
    sets = [("all pairs", pairs)] + [(f"{lp.name} ({lp.listed} listed)", lp.pairs)
                                     for lp in listed]
    for name, p in sets:
        lines.append(_row(name, p, thresholds))
    for lp in listed:
        if lp.disagree:
            lines.append(f"{lp.name}: {lp.disagree} rows disagree with {IDENTITIES_CSV}")
    return lines


def _row(name: str, p: Pairs, thresholds: Sequence[float]) -> str:
    eer, at = equal_error(p)
    t_far = threshold_at_far(p)
    cells = [name, str(p.genuine.size), str(p.impostor.size),
             f"{float(p.genuine.max()):.3f}" if p.genuine.size else "-",
             f"{float(p.impostor.min()):.3f}" if p.impostor.size else "-",
             f"{eer:.3f} ({at:.3f})", f"{t_far:.3f}, {rates(p, t_far).tar:.3f}"]
    for t in thresholds:
        r = rates(p, t)
        cells.append(f"{r.tar:.3f} / {r.far:.4f}")
    return "| " + " | ".join(cells) + " |"


def model_lines(pairs: Pairs, thresholds: Sequence[float],
                galleries: Sequence[int] = (1, 30, 100, 300)) -> list[str]:
    """Per-frame and per-person (3-frame vote) rates at each threshold: counted TAR, the
    normal model's per-pair FAR, and a stranger's false-match chance (gallery_far) against
    galleries of `galleries` subjects with TEMPLATES_PER_SUBJECT templates each."""
    imp = pairs.impostor
    lines = [
        f"impostor distances: mean {float(np.mean(imp)):.3f}, sd {float(np.std(imp, ddof=1)):.3f}"
        f", median {float(np.median(imp)):.3f}; genuine: mean {float(np.mean(pairs.genuine)):.3f}"
        f", sd {float(np.std(pairs.genuine, ddof=1)):.3f}",
        f"normal model check, FAR counted / tail fit (median + {TAIL_QUANTILE:.0%} quantile) / "
        "mean-sd fit: " + "; ".join(
            f"{t:.2f}: {rates(pairs, t).far:.4f} / {normal_far(imp, t):.4f} / "
            f"{normal_far(imp, t, None):.4f}" for t in CHECK_THRESHOLDS),
        f"model threshold for a stranger's frame FAR <= {TARGET_FAR:.1%} against one resident "
        f"with {TEMPLATES_PER_SUBJECT} templates: {model_threshold(imp):.3f}",
        "",
        "| threshold | TAR frame | TAR person (vote, indep. frames) | FAR pair (model) | "
        + " | ".join(f"stranger, {g} x {TEMPLATES_PER_SUBJECT} templates: frame / person"
                     for g in galleries) + " |",
        "|---" * (4 + len(galleries)) + "|",
    ]
    for t in thresholds:
        tar = rates(pairs, t).tar
        far = normal_far(imp, t)
        cells = [f"{t:.2f}", f"{tar:.3f}", f"{vote_rate(tar):.3f}", f"{far:.1e}"]
        cells += ["{:.1e} / {:.1e}".format(*gallery_far(far, g)) for g in galleries]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def plot_roc(pairs: Pairs, path: Path, chosen: float, title: str) -> Path:
    """The figure of docs/face-threshold.md (PNG): the distance histograms with the
    thresholds, and TAR / FAR against the threshold with the normal model's FAR below the
    counted resolution."""
    import matplotlib

    matplotlib.use("Agg")  # a gate box has no screen
    import matplotlib.pyplot as plt

    fig, (hist, curve, roc_ax) = plt.subplots(1, 3, figsize=(15.0, 4.4), dpi=100)
    bins = np.linspace(0.0, 1.2, 61)
    hist.hist(pairs.genuine, bins=bins, color="tab:green", alpha=0.7, density=True,
              label=f"same person ({pairs.genuine.size} pairs)")
    hist.hist(pairs.impostor, bins=bins, color="tab:red", alpha=0.5, density=True,
              label=f"different people ({pairs.impostor.size} pairs)")
    marks = ((chosen, "tab:blue", "-", f"threshold {chosen:.2f}"),
             (DLIB_THRESHOLD, "0.4", "--", f"dlib {DLIB_THRESHOLD:.1f}"))
    for t, colour, style, label in marks:
        hist.axvline(t, color=colour, ls=style, lw=1.2, label=label)
    hist.set(xlabel="descriptor distance (Euclidean)", ylabel="density",
             title="distances of all photo pairs")
    hist.legend(fontsize=8, loc="upper left")

    grid = np.linspace(0.3, 0.8, 501)
    tar = np.searchsorted(pairs.genuine, grid, side="right") / pairs.genuine.size
    far = np.searchsorted(pairs.impostor, grid, side="right") / pairs.impostor.size
    model = np.array([normal_far(pairs.impostor, float(t)) for t in grid])
    curve.plot(grid, tar, color="tab:green", label="TAR (counted)")
    curve.plot(grid, np.where(far > 0, far, np.nan), color="tab:red", label="FAR (counted)")
    curve.plot(grid, model, color="tab:red", ls=":", label="FAR per pair (normal, tail fit)")
    curve.plot(grid, [normal_far(pairs.impostor, float(t), None) for t in grid], color="0.6",
               ls=":", label="FAR per pair (normal, mean-sd fit)")
    curve.axhline(TARGET_FAR, color="0.5", lw=0.8, ls="-.", label="FAR 0.1 %")
    curve.axhline(1 / pairs.impostor.size, color="0.7", lw=0.8, ls=":",
                  label=f"1 false accept in {pairs.impostor.size}")
    for t, colour, style, _ in marks:
        curve.axvline(t, color=colour, ls=style, lw=1.2)
    curve.set(yscale="log", ylim=(1e-7, 1.5), xlim=(grid[0], grid[-1]),
              xlabel="threshold (accept: distance <= threshold)", ylabel="rate",
              title="TAR and FAR against the threshold")
    curve.legend(fontsize=8, loc="lower right")
    roc_ax.plot(np.where(far > 0, far, np.nan), tar, color="tab:purple", label="counted")
    roc_ax.plot(model, tar, color="tab:purple", ls=":", label="FAR: normal, tail fit")
    for t, colour, _, label in marks:
        roc_ax.plot([normal_far(pairs.impostor, t)], [rates(pairs, t).tar], "o",
                    color=colour, label=label)
    roc_ax.axvline(TARGET_FAR, color="0.5", lw=0.8, ls="-.")
    roc_ax.set(xscale="log", xlim=(1e-7, 1.0), ylim=(0.0, 1.02), xlabel="FAR per pair",
               ylabel="TAR per pair", title="ROC")
    roc_ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
