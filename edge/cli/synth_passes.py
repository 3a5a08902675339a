"""`gate-edge synth --passes` (docs/cli.md): the pass side of a pass scene. Signs each planned
pass (edge.sim.passes.PassPlan) with the scene's pass key, or with a forger's key the gate does
not trust, tampers one Base45 character where the case asks, and computes the truth of each
pass alone with the real verifier (edge.identity.passes): the simulator never signs, and the
labels never guess what a tampered payload gives. Then writes what the scene assumes: the key
pair, OUT/passes.json (the plan), one QR PNG per pass, the holders' health, the trust and the
revocations in OUT/lists, and OUT/gate.toml.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.identity.passes import issue as pass_issue
from edge.identity.passes.claims import CLAIM_EXP, compound_revocation_hash
from edge.identity.passes.codec import b45decode, encode_text, inflate
from edge.identity.passes.keys import (
    StaticTrust,
    generate_pass_keypair,
    kid_of_public_key,
    load_pass_private_key,
)
from edge.identity.passes.verify import PassVerifier
from edge.sim.passes import CASES, PassCode, PassPlan
from edge.sim.spec import EPOCH_NS

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
PASS_PLAN = "passes.json"
HEALTH_AT = datetime.fromtimestamp(EPOCH_NS / 1e9 - 86400, UTC)  # the day before the scene


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class SceneIssuer:
    """The edge.sim.passes.PassIssuer of a scene: `key` signs, `forger` forges; verdicts at
    the scene's clock and today's must agree (the windows are chosen so)."""

    key: Ed25519PrivateKey
    gate: str
    seed: int
    forger: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    issued: list[tuple[PassPlan, PassCode]] = field(default_factory=list)
    revoked: set[bytes] = field(default_factory=set)

    def trust(self) -> StaticTrust:
        return StaticTrust({kid_of_public_key(self.key.public_key()): self.key.public_key()},
                           self.revoked)

    def __call__(self, plan: PassPlan) -> PassCode:
        assert plan.pass_id is not None and plan.holder is not None and plan.kind is not None
        assert plan.valid_from is not None and plan.valid_to is not None
        start = _iso(plan.valid_from)
        text = pass_issue.issue_pass(
            self.key if plan.trusted else self.forger, subject=plan.holder, kind=plan.kind,
            valid_from=start, valid_to=_iso(plan.valid_to), gates=plan.gates,
            pass_id=plan.pass_id, issued_at=start)
        if plan.revoked:
            self.revoked.add(compound_revocation_hash(plan.pass_id))
        if plan.tamper:
            text = tamper(text, np.random.default_rng([self.seed, len(self.issued)]))
        if plan.alter:
            text = alter_expiry(text)
        verifier = PassVerifier(self.trust(), gate=self.gate)
        scene_at = datetime.fromtimestamp(EPOCH_NS / 1e9, UTC)
        verdict = verifier.verify(text, scene_at)
        today = verifier.verify(text, datetime.now(UTC))
        if (verdict.valid, verdict.reason) != (today.valid, today.reason):
            raise RuntimeError(f"synth: pass {plan.pass_id} ({plan.case}) is {verdict.reason} "
                               f"at the scene's clock but {today.reason} today")
        planned = _planned_reason(plan)
        if not plan.tamper and verdict.reason != planned:
            raise RuntimeError(f"synth: pass {plan.pass_id} ({plan.case}): the verifier says "
                               f"{verdict.reason}, the plan {planned}")
        qr = segno.make_qr(text, error=pass_issue.QR_ERROR, mode="alphanumeric",
                           boost_error=False)
        code = PassCode(text, np.array(qr.matrix, dtype=bool), verdict.reason)
        self.issued.append((plan, code))
        return code


def _planned_reason(plan: PassPlan) -> str | None:
    """What the pass alone must give (None: valid) for an untampered case."""
    case = CASES[plan.case]
    if not plan.trusted or plan.alter:
        return "bad_signature"
    if plan.valid_to is not None and _iso(plan.valid_to) < datetime.fromtimestamp(
            EPOCH_NS / 1e9, UTC):
        return "expired"
    if plan.valid_from is not None and _iso(plan.valid_from) > datetime.now(UTC):
        return "not_yet_valid"
    if plan.revoked:
        return "revoked"
    return "wrong_gate" if case.other_gate else None


def tamper(text: str, rng: np.random.Generator) -> str:
    """One Base45 character after the prefix replaced by another (the text stays QR
    alphanumeric)."""
    prefix_len = text.index(":") + 1
    i = int(rng.integers(prefix_len, len(text)))
    choices = [c for c in BASE45 if c != text[i]]
    return text[:i] + choices[int(rng.integers(len(choices)))] + text[i + 1:]


def alter_expiry(text: str) -> str:
    """The pass with its expiry pushed out 10 years after signing: prefix, Base45, zlib and
    COSE stay well formed, so only the signature can tell."""
    import cbor2

    prefix, body = text[:text.index(":") + 1], text[text.index(":") + 1:]
    item = cbor2.loads(inflate(b45decode(body)))
    parts = list(item.value if isinstance(item, cbor2.CBORTag) else item)
    claims = dict(cbor2.loads(parts[2]))
    claims[CLAIM_EXP] = int(claims[CLAIM_EXP]) + 10 * 365 * 86400
    parts[2] = cbor2.dumps(claims)
    return encode_text(prefix, cbor2.dumps(cbor2.CBORTag(18, parts)))


def scene_key(out: Path, given: Path | None) -> tuple[Ed25519PrivateKey, Path]:
    """The pass key (given, or a new pair in OUT/keys) and its public key file."""
    if given is not None:
        key = load_pass_private_key(given)
        pub = given.with_name(given.name.replace(".key.pem", ".pub.pem"))
        if not pub.is_file():
            pub = out / "keys" / "pass.pub.pem"
            pub.parent.mkdir(parents=True, exist_ok=True)
            from cryptography.hazmat.primitives import serialization

            pub.write_bytes(key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
        return key, pub
    existing = sorted((out / "keys").glob("pass-*.key.pem"))
    if existing:  # a re-run into the same folder keeps its key
        key_path = existing[0]
    else:
        key_path, _, _ = generate_pass_keypair(out / "keys")
    return load_pass_private_key(key_path), key_path.with_name(
        key_path.name.replace(".key.pem", ".pub.pem"))


def write_plan(out: Path, issuer: SceneIssuer, pub: Path, labels: list[str]) -> dict[str, Any]:
    """OUT/passes.json and OUT/passes/<pass id>.png: what each pass is and what the gate
    needs (trusted key, revoked ids, holders' health)."""
    (out / "passes").mkdir(exist_ok=True)
    entries = []
    for plan, code in issuer.issued:
        assert plan.pass_id is not None
        png = out / "passes" / f"{plan.pass_id}.png"
        pass_issue.write_qr_png(code.text, png)
        entries.append({**plan.to_json(), "presenter": labels[plan.person],
                        "text": code.text, "verdict_reason": code.reason,
                        "png": str(png.relative_to(out))})
    health = {str(p.holder): CASES[p.case].health for p, _ in issuer.issued
              if CASES[p.case].health}
    data = {"format": "gate-edge-pass-plan", "version": 1, "gate": issuer.gate,
            "trusted_keys": [str(pub.resolve())],
            "kid": kid_of_public_key(issuer.key.public_key()).hex(),
            "revoked_pass_ids": [p.pass_id for p, _ in issuer.issued if p.revoked],
            "health": health, "passes": entries}
    (out / PASS_PLAN).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return data


def apply_to_lists(lists: Path, data: dict[str, Any]) -> str:
    """What passes.json says the gate needs, into the scene's list store: the holders' health,
    the trusted pass key, the revoked pass ids (by their revocation hash). One line back."""
    from cryptography.hazmat.primitives import serialization

    from edge.identity.store import ListStore
    from edge.identity.trustlists import Revocations, trusted_key

    keys = []
    for path in data["trusted_keys"]:
        public = serialization.load_pem_public_key(Path(path).read_bytes())
        keys.append(trusted_key("compound", public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)))
    hashes = b"".join(compound_revocation_hash(p) for p in data["revoked_pass_ids"])
    with ListStore.open(lists) as store:
        for subject, status in data["health"].items():
            store.set_health(subject, status, HEALTH_AT)
        store.add_trusted(keys)
        if hashes:
            store.revoke([Revocations("compound", hashes)])
    return (f"{len(data['health'])} health statuses, {len(keys)} trusted pass keys, "
            f"{len(data['revoked_pass_ids'])} revoked passes")
