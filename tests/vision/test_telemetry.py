"""What a real isobalance command does on the network, measured with strace (README "Privacy").

The PyPI build of MediaPipe 1.x posts usage statistics to Google (https://play.googleapis.com/log) from a
thread of its own: libmediapipe's TasksStatsProtoLogger through a bundled libcurl. There is no switch for it
(see README), so isobalance states it instead of hiding it. This test holds the README to what the process
really does: the only host name the command looks up is MediaPipe's logging endpoint, it connects to
nothing but a resolver (port 53) or HTTPS (443), and it still succeeds when that lookup fails (as it does
on a machine without a network). If a MediaPipe upgrade stops, moves or adds to this, the test fails and
the README's Privacy section must change with it. Nothing is mocked: the real command, model and clip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOGGING_HOST = "play.googleapis.com"


def dns_query_names(payload: bytes) -> list[str]:
    """The QNAME of a DNS query message (RFC 1035 4.1), or [] when the bytes are not one."""
    if len(payload) < 17 or payload[2] & 0x80 or payload[4:6] != b"\0\1":   # a query, one question
        return []
    labels, i = [], 12
    while i < len(payload) and payload[i]:
        n = payload[i]
        if n > 63 or i + 1 + n > len(payload):
            return []
        labels.append(payload[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    return [".".join(labels).lower()] if labels else []


def network_activity(trace: str) -> tuple[set[str], list[tuple[str, int]]]:
    """(host names looked up, (family, port) of every non-AF_UNIX connect) in an ``strace -xx`` trace."""
    names: set[str] = set()
    for line in trace.splitlines():
        if re.search(r"\b(sendto|sendmsg|sendmmsg)\b", line):      # also "<... sendmmsg resumed>" lines
            for hexed in re.findall(r'"((?:\\x[0-9a-f]{2})+)"', line):
                names.update(dns_query_names(bytes.fromhex(hexed.replace("\\x", ""))))
    connects = [(family, int(port)) for family, port in
                re.findall(r"connect\(\d+, \{sa_family=(AF_INET6?), sin6?_port=htons\((\d+)\)", trace)]
    return names, connects


def test_dns_query_parser_on_a_constructed_query():
    """The parser the assertions rest on, on a query built by hand (RFC 1035 layout)."""
    query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04play\x0agoogleapis\x03com\x00\x00\x1c\x00\x01"
    assert dns_query_names(query) == [LOGGING_HOST]
    answer = bytearray(query)
    answer[2] |= 0x80                                           # QR bit: a response, not a query
    assert dns_query_names(bytes(answer)) == []
    assert dns_query_names(b"GET / HTTP/1.1\r\n\r\n") == []


def test_the_only_host_a_command_contacts_is_mediapipes_usage_logging(model_path, sample_clip, tmp_path):
    assert shutil.which("strace"), "strace is needed (scripts/setup.sh installs it)"
    trace_file, out = tmp_path / "trace.txt", tmp_path / "out"
    cmd = ["strace", "-f", "--seccomp-bpf", "-qq", "-xx", "-s", "512", "-e", "trace=%network", "-o", str(trace_file),
           sys.executable, "-m", "isobalance.cli", "landmarks", str(sample_clip("tfjs_pose_1.mp4")),
           "-o", str(out), "--no-video", "--model", str(model_path)]
    # a proxy setting would send curl to the proxy instead: measure what the library does by itself
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["ISOBALANCE_DATA"] = str(tmp_path / "data")
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
                          env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "track.csv").stat().st_size > 0               # the run does not need the network
    names, connects = network_activity(trace_file.read_text())
    # MediaPipe's statistics upload is still there (README says so) and nothing else is looked up
    assert names == {LOGGING_HOST}, names
    # 53: the resolver; 443: HTTPS. Port 0 too: glibc's getaddrinfo connects a UDP socket to each answer
    # to sort them (RFC 6724), which sends nothing, and uses port 0 when the caller gives no service.
    assert all(port in (0, 53, 443) for _, port in connects), connects


def test_readme_privacy_section_names_the_endpoint():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    privacy = " ".join(readme.split("\n## Privacy", 1)[1].split("\n## ", 1)[0].split())
    assert LOGGING_HOST in privacy and "usage statistics" in privacy
    assert "tests/vision/test_telemetry.py" in privacy


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
