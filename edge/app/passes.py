"""Pass wiring: the QR reader, the verifier and its trust (the config's key files, then the
list store's signers and revocations), and the pass policy from `[passes]`."""

from __future__ import annotations

import logging

from edge.app.recognition import Lists
from edge.config import Settings
from edge.core.passes import PassParams
from edge.errors import ConfigError
from edge.pipeline.passes import PassReader, TrustChain

log = logging.getLogger("edge.passes")


def pass_params(settings: Settings) -> PassParams | None:
    p = settings.passes
    if not p.enabled:
        return None
    return PassParams(
        holder_mismatch_distance=p.holder_mismatch_distance,
        require_listed_holder=p.require_listed_holder,
        accept_dcc=p.accept_dcc,
        health_allowed=tuple(settings.identity.health_allowed),
        attribute_face_widths=p.attribute_face_widths,
        attribute_window_s=p.attribute_window_s,
        repeat_window_s=p.repeat_window_s,
    )


def open_pass_reader(settings: Settings, lists: Lists | None) -> PassReader | None:
    """The QR reader + verifier when `passes.enabled`; ConfigError when a key file is bad."""
    p = settings.passes
    if not p.enabled:
        return None
    from edge.identity.passes.keys import StaticTrust
    from edge.identity.passes.verify import PassVerifier
    from edge.identity.trust import StoreTrust
    from edge.vision.qr import QrReader

    try:
        files = StaticTrust.from_files(list(p.trusted_keys))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"passes.trusted_keys: {exc}") from None
    sources: list[object] = [files]
    if lists is not None:
        sources.append(StoreTrust(lists.store))
    verifier = PassVerifier(TrustChain(sources), gate=settings.gate.gate,
                            compound_prefix=p.prefix)
    roi = (p.roi[0], p.roi[1], p.roi[2], p.roi[3]) if p.roi else None
    log.info("passes on: %d trusted key file(s)%s, QR on every %d RGB frame(s) in %s",
             len(p.trusted_keys), " + the list store's signers" if lists else "",
             p.decode_every_n_frames, roi or "the whole frame")
    return PassReader(QrReader(roi=roi), verifier, every_n_frames=p.decode_every_n_frames)
