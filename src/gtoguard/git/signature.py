"""Verify tag signatures through git itself (``git verify-tag``), against the signers
the server policy names: an SSH allowed-signers file and/or a GnuPG home.

pygit2 has no tag-signature API; git appends the signature block to the message, and
``git verify-tag`` works on quarantined objects because it inherits the hook's
environment (docs/design.md §7). Verifying never changes the server: only the verifier of a
configured signer type runs (an X.509 block would make gpgsm import the pusher's
certificates), on a throwaway copy of the GnuPG home, and oversized blocks are refused
unread.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

from gtoguard.errors import CannotRun
from gtoguard.git import invoke
from gtoguard.model.signatureblock import MAX_BLOCK, Verdict
from gtoguard.policy import timebudget
from gtoguard.policy.settings import Signers


def precheck(block: str, signers: Signers) -> Verdict | None:
    """A verdict reached without running any verifier, or None when one must run."""
    if len(block.encode("utf-8", "surrogateescape")) > MAX_BLOCK:
        return Verdict(
            False, f"the signature block is larger than {MAX_BLOCK} bytes; no verifier is run on it"
        )
    if block.startswith("-----BEGIN SIGNED MESSAGE-----"):
        return Verdict(False, "X.509 (gpgsm) signatures are not accepted; sign with SSH or GPG")
    kind, configured = (
        ("SSH", signers.ssh) if block.startswith("-----BEGIN SSH") else ("GPG", signers.gpg)
    )
    if not configured:
        return Verdict(False, f"signed with {kind}, and the server trusts no {kind} keys")
    return None


def verify(git_dir: str, oid: str, signers: Signers, block: str | None = None) -> Verdict:
    """Verify the signature of tag object ``oid`` with git, trusting only ``signers``;
    ``block`` is the signature block when the caller has it (it is checked first)."""
    if not signers.any:
        return Verdict(
            False, "no signers are configured on the server (signers in the server policy)"
        )
    if block is not None:
        early = precheck(block, signers)
        if early is not None:
            return early
    scratch = tempfile.mkdtemp(prefix="gtoguard-gnupg-")
    try:
        return _run(git_dir, oid, signers, _copy_home(signers.gpg, scratch))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _copy_home(home: str | None, scratch: str) -> str:
    """The trusted keys, copied (regular files only: no agent sockets) into a fresh home
    that is thrown away after the check, so nothing a push does lands in the real one."""
    target = os.path.join(scratch, "home")
    os.mkdir(target, 0o700)
    if home:
        try:
            names = os.listdir(home)
        except OSError:
            names = []
        for name in names:
            source = os.path.join(home, name)
            if os.path.isfile(source) and not os.path.islink(source):
                shutil.copyfile(source, os.path.join(target, name))
    # a key is as valid as the owner trust the admin gave it in that home (never,
    # marginal, full, ...), not through other keys: gpg.minTrustLevel then means that
    with open(os.path.join(target, "gpg.conf"), "a", encoding="utf-8") as conf:
        conf.write("\ntrust-model direct\nno-auto-key-retrieve\n")
    return target


def _run(git_dir: str, oid: str, signers: Signers, home: str) -> Verdict:
    args = [
        "-c",
        f"gpg.ssh.allowedSignersFile={signers.ssh or os.devnull}",
        "-c",
        f"gpg.minTrustLevel={signers.gpg_min_trust}",
        "-c",
        "gpg.x509.program=false",
        "verify-tag",
        "--raw",
        oid,
    ]
    env = invoke.environ({"GIT_DIR": git_dir, "GNUPGHOME": home})
    timebudget.spend("verifying signatures")
    left = timebudget.left()
    try:
        done = invoke.run(
            args,
            env=env,
            text=True,
            errors="replace",
            timeout=30 if left is None else min(30.0, left),
        )
    except subprocess.TimeoutExpired as exc:
        if left is not None and left < 30:
            raise timebudget.OverBudget(timebudget.seconds() or 0, "verifying signatures") from exc
        return Verdict(False, f"git verify-tag could not run: {exc}")
    except CannotRun as exc:
        return Verdict(False, f"git verify-tag could not run: {exc.message}")
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
    if "TRUST_NEVER" in output or "TRUST_UNDEFINED" in output or "minTrustLevel" in output:
        return "signed by a key whose owner trust is too low (signers.gpg_min_trust)"
    lines = [line for line in output.splitlines() if line.strip() and "[GNUPG:]" not in line]
    return lines[-1].strip()[:200] if lines else "the signature does not verify"
