"""Verify tag signatures through git itself (``git verify-tag``), against the signers
the server policy names: an SSH allowed-signers file and/or a GnuPG home.

pygit2 has no tag-signature API; git appends the signature block to the message, and
``git verify-tag`` works on quarantined objects because it inherits the hook's
environment (DESIGN §7).
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

from .policy import Signers

_BLOCK = re.compile(
    r"\n?-----BEGIN (?:PGP SIGNATURE|SSH SIGNATURE|SIGNED MESSAGE)-----\n.*\Z", re.S
)


def split_signature(message: str) -> tuple[str, str | None]:
    """(message without its signature block, the block or None)."""
    match = _BLOCK.search(message)
    if match is None:
        return message, None
    return message[: match.start()], match.group(0).lstrip("\n")


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str  # who signed, or why it does not verify


def verify(git_dir: str, oid: str, signers: Signers) -> Verdict:
    """Verify the signature of tag object ``oid`` with git, trusting only ``signers``."""
    if not signers.any:
        return Verdict(False, "no signers are configured on the server (signers in the server "
                              "policy)")  # fmt: skip
    args = ["git", "-c", f"gpg.ssh.allowedSignersFile={signers.ssh or os.devnull}",
            "verify-tag", "--raw", oid]  # fmt: skip
    env = dict(os.environ, GIT_DIR=git_dir)
    env["GNUPGHOME"] = signers.gpg or os.path.join(git_dir, "gtoguard-no-gnupg-home")
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False, env=env,
                              timeout=30)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Verdict(False, f"git verify-tag could not run: {exc}")
    output = (done.stderr or "") + (done.stdout or "")
    if done.returncode == 0:
        return Verdict(True, _signer(output))
    return Verdict(False, _reason(output))


def _signer(output: str) -> str:
    ssh = re.search(r'Good "git" signature for (\S+)', output)
    if ssh:
        return ssh.group(1)
    gpg = re.search(r"GOODSIG \S+ (.+)", output)
    return gpg.group(1).strip() if gpg else "a trusted key"


def _reason(output: str) -> str:
    if "ERRSIG" in output or "NO_PUBKEY" in output or "No public key" in output:
        return "signed by a key the server does not trust"
    if "No principal matched" in output or "allowedSignersFile" in output:
        return "signed by an SSH key that is not in the server's allowed signers"
    if "BADSIG" in output or "Bad signature" in output or "Signature verification failed" in output:
        return "the signature does not match the tag (altered after signing)"
    lines = [line for line in output.splitlines() if line.strip() and "[GNUPG:]" not in line]
    return lines[-1].strip()[:200] if lines else "the signature does not verify"
