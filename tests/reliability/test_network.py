"""No network at run time, including from native code; and quiet output.

The matrix's audit hook (conftest.py) sees Python-level socket calls; native libraries (ONNX
Runtime's 1DS telemetry resolves mobile.events.data.microsoft.com from a C++ timer thread, ~8 s
after its first session) bypass it. So here the CLI runs in a subprocess under ``strace`` (every
``connect``/``sendto`` syscall of every thread), in a fresh network namespace when we are root,
and stays alive long enough for such a timer to fire. The same run checks that what reaches the
real terminal (file descriptors 1 and 2) is styleport's own lines only: TensorFlow's C++ and absl
logs go to the log file (styleport/quiet.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

DRIVER = """
import sys, time
from styleport.cli import main
codes = [main(["stylize", "model.pth", "photos/colosseum.jpg", "-o", "s.png"]),
         main(["export", "model.pth", "--to", "ort,tflite", "--no-verify", "-o", "ex"])]
time.sleep(float(sys.argv[1]))  # ONNX Runtime's telemetry fired ~8 s after its first session
sys.exit(max(codes))
"""
LINGER_S = 15


def network_syscalls(trace: str) -> list[str]:
    """connect/sendto lines of an strace log that address IPv4/IPv6 (not local unix sockets)."""
    return [line for line in trace.splitlines() if re.search(r"(connect|sendto|sendmsg)\(.*AF_INET", line)]


def test_network_syscalls_are_recognised():
    sample = '7609 connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.1")}, 16) = 0\n'
    sample += '7610 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1\n'
    assert network_syscalls(sample) == [sample.splitlines()[0]]


def test_cli_makes_no_network_calls_even_from_native_code(world, tmp_path):
    strace = shutil.which("strace")
    assert strace, "strace is needed for this test (apt-get install strace; scripts/setup.sh installs it)"
    log = tmp_path / "trace.txt"
    command = [strace, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(log),
               sys.executable, "-c", DRIVER, str(LINGER_S)]  # fmt: skip
    if os.geteuid() == 0 and shutil.which("unshare"):
        command = ["unshare", "-n", *command]  # and no network to reach, should anything try
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("ORT_DISABLE_TELEMETRY", None)  # styleport itself must set it, not the test's environment
    proc = subprocess.run(command, cwd=world, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (world / "ex" / "model_fp32.ort").is_file() and (world / "s.png").is_file()
    assert network_syscalls(log.read_text()) == []
    own = re.compile(r"^(styleport: |wrote |ort +fp32 |tflite +fp32 )")
    assert [line for line in (proc.stdout + proc.stderr).splitlines() if not own.match(line)] == []
    assert "third-party messages" in proc.stderr  # ... and says where they went
