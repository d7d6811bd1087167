"""The server hooks' output stream: the same bytes for a client that reads, a bounded wait
for one that does not, nothing at all for one that is gone. Real processes writing to
real pipes (the hook's stderr is a pipe to receive-pack)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# what a hook writes: non-ASCII text, and a name that is not UTF-8 (surrogate-escaped)
WRITER = r"""
import sys
from gtoguard.server import clientstream
if sys.argv[1] == "deadline":
    clientstream.take_std_streams({"GTOGUARD_WRITE_TIMEOUT": sys.argv[2]})
text = "gtoguard: changed: modèle\udcff: v1.0.0 registered\n" * int(sys.argv[3])
sys.stderr.write(text)
sys.stdout.write("out\n")
sys.stderr.flush()
sys.stdout.flush()
print(clientstream.dropped(), len(text.encode("utf-8", "backslashreplace")) + 4,
      file=open(sys.argv[4], "w"))
"""
LINE = "gtoguard: changed: modèle\\udcff: v1.0.0 registered\n".encode()


def _write(
    tmp_path: Path, mode: str, lines: int, stdout: int, stderr: int, timeout: str = "10"
) -> tuple[int, int]:
    """Run the writer; (bytes dropped, bytes written in all)."""
    counts = f"{tmp_path}/counts-{mode}"
    subprocess.run(
        [sys.executable, "-c", WRITER, mode, timeout, str(lines), counts],
        stdout=stdout,
        stderr=stderr,
        timeout=60,
        check=True,
    )
    dropped, total = Path(counts).read_text().split()
    return int(dropped), int(total)


def test_a_client_that_reads_gets_the_same_bytes(tmp_path: Path) -> None:
    outputs = {}
    for mode in ("plain", "deadline"):
        path = f"{tmp_path}/{mode}.out"
        with open(path, "wb") as out:
            assert _write(tmp_path, mode, 5000, out.fileno(), out.fileno())[0] == 0
        outputs[mode] = Path(path).read_bytes()
    assert outputs["deadline"] == outputs["plain"] == LINE * 5000 + b"out\n"


def test_a_client_that_stops_reading_gets_a_prefix_and_the_rest_is_counted(
    tmp_path: Path,
) -> None:
    """The writer ends (the test's timeout would fail it otherwise) although nobody reads
    its pipe; what it wrote before the deadline is there, whole lines of it in order, and
    every other byte is counted as dropped."""
    read, write = os.pipe()
    with os.fdopen(read, "rb") as pipe:
        try:
            dropped, total = _write(tmp_path, "deadline", 20_000, write, write, timeout="1")
        finally:
            os.close(write)
        got = pipe.read()
    assert 0 < len(got) < total
    assert dropped == total - len(got)
    assert got == (LINE * 20_000 + b"out\n")[: len(got)]


def test_a_client_that_is_gone_costs_no_wait(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader hung up before anything was written
    try:
        dropped, total = _write(tmp_path, "deadline", 1000, write, write, timeout="300")
    finally:
        os.close(write)
    assert dropped == total
