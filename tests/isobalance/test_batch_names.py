"""Issue #11 items 3 and 8 (batch part), reproduced: clips with hostile names stay inside ``-o`` and the
summary links only to the reports, by relative file links. Real model on a real 11-frame clip
(pose2sim_static_cam02) copied under each hostile name."""

from __future__ import annotations

import csv
import hashlib
import html
import re
import urllib.parse
from pathlib import Path

import pytest

from isobalance.batch import output_names, run_batch, safe_stem, summary_html

HOSTILE = {
    "dots": "...mp4",                                   # stem "..": used to write into the parent of -o
    "summary": "summary.csv.mp4",                       # stem "summary.csv": used to crash the summary
    "script": "javascript:alert(1).mp4",                # used to become a live javascript: link
    "escapes": "\x1b[2J\x1b[31mred\x1b[0m.mp4",         # terminal escape codes
    "quote": 'x" onmouseover="alert(1).mp4',
    "long": "l" * 250 + ".mp4",
}


def listing(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))}


def test_names_are_plain_distinct_and_stable():
    videos = [Path(f"/in/{n}") for n in HOSTILE.values()] + [Path("/in/a/same.mp4"), Path("/in/b/same.mp4"),
                                                             Path("/in/SAME.MP4"), Path("/in/.mp4.mp4")]
    digests = ["ab" * 32] * len(videos)                  # identical bytes: the hash alone cannot separate them
    names = output_names(videos, digests)
    assert len({n.lower() for n in names}) == len(names)
    for n in names:
        assert re.fullmatch(r"\w[\w.-]*", n) and ".." not in n and len(n) <= 80 + 12, n
        assert n.lower() not in ("summary.csv", "summary.html")
    assert names == output_names(videos, digests)        # resuming finds the same folders
    assert safe_stem("..") == "video" and safe_stem("javascript:alert(1)") == "javascript_alert_1"
    assert safe_stem("Zoë über") == "Zoë_über"


def test_summary_links_are_relative_file_links_only():
    rows = [{"video": n, "status": "ok"} for n in ("javascript:alert(1)", 'a"b', "<img src=x>", "ok")]
    page = summary_html(rows)
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert len(hrefs) == 4
    for h in hrefs:
        url = html.unescape(h)
        assert url.startswith("./") and url.endswith("/report.html") and ":" not in urllib.parse.unquote(url)[:2]
        assert urllib.parse.urlparse(url).scheme == ""
    assert "<img" not in page and "javascript:alert" not in page.split("<tbody>")[1].split("href=")[0]


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory, sample_clip):
    root = tmp_path_factory.mktemp("hostile")
    clips = root / "clips"
    (clips / "a").mkdir(parents=True)
    (clips / "b").mkdir()
    data = sample_clip("pose2sim_static_cam02.mp4").read_bytes()
    for name in HOSTILE.values():
        (clips / name).write_bytes(data)
    (clips / "a" / "same.mp4").write_bytes(data)         # same stem, same bytes, different folders
    (clips / "b" / "same.mp4").write_bytes(data)
    work = root / "work"
    (work / "neighbour").mkdir(parents=True)
    (work / "track.csv").write_text("mine, not the batch's\n")
    (work / "report.html").write_text("<p>mine</p>")
    (work / "neighbour" / "notes.txt").write_text("keep")
    before = listing(work)
    result = run_batch(clips, work / "out", workers=2)
    return result, work, before


def test_hostile_names_stay_inside_the_output_folder(hostile_run):
    result, work, before = hostile_run
    after = listing(work)
    assert {k: v for k, v in after.items() if not k.startswith("out")} == before   # nothing beside -o changed
    out = result.out
    assert len(result.rows) == 8 and {r["status"] for r in result.rows} == {"ok"}, result.rows
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) == 8
    for folder in folders:
        assert folder.parent == out and re.fullmatch(r"\w[\w.-]*", folder.name)
        assert {p.name for p in folder.iterdir()} == {"track.csv", "report.json", "report.html", "batch.json"}
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["summary.csv", "summary.html"]
    with open(result.summary_csv, newline="") as fh:
        assert sorted(r["video"] for r in csv.DictReader(fh)) == sorted(f.name for f in folders)


def test_the_summary_links_each_report_and_nothing_else(hostile_run):
    result, _work, _before = hostile_run
    page = result.summary_html.read_text()
    assert "\x1b" not in page and "\x1b" not in result.summary_csv.read_text()
    hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]*)"', page)]
    assert len(hrefs) == 8
    for h in hrefs:
        assert h.startswith("./") and urllib.parse.urlparse(h).scheme == ""
        target = (result.out / urllib.parse.unquote(h)).resolve()
        assert target.parent.parent == result.out.resolve() and target.is_file()
    again = run_batch(result.out.parent.parent / "clips", result.out, workers=2)     # resumes by the same names
    assert again.reused == 8
