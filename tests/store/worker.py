"""A separate process that uses the store (for the crash and concurrency tests).

``python -m tests.store.worker save URL DATA_DIR PATIENT_ID N TAG [GO_FILE]``: waits until GO_FILE
exists (so several workers start together), saves N assessments with files, prints their ids.
``... delete URL DATA_DIR PATIENT_ID``: deletes the patient.
``... open URL DATA_DIR NAME GO_FILE``: waits for GO_FILE, opens (and so migrates) the store, adds a patient.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def wait_for(go: Path | None) -> None:
    while go is not None and not go.exists():
        time.sleep(0.005)


def main(argv: list[str]) -> None:
    mode, url, data = argv[:3]
    from store import Store, save_assessment

    if mode == "save":
        from tests.store import documents as docs

        pid, n, tag = argv[3:6]
        go = Path(argv[6]) if len(argv) > 6 else None
        report = docs.report(8.0)                # computed before the start signal
        work = Path(data).parent / f"worker-{tag}"
        wait_for(go)
        with Store.open(url, data) as store:
            for i in range(int(n)):
                files = docs.some_files(work / str(i), f"{tag}-{i}")
                print(save_assessment(store, pid, report, files, notes=f"{tag}-{i}"), flush=True)
    elif mode == "delete":
        with Store.open(url, data) as store:
            store.delete_patient(argv[3])
    elif mode == "open":
        wait_for(Path(argv[4]))
        with Store.open(url, data) as store:
            print(store.add_patient(argv[3]), flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
