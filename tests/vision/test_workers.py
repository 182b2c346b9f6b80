"""vision.workers: spawn pools that stay healthy whatever the parent process is running."""

from __future__ import annotations

import sys
import types


def test_pool_workers_do_not_rerun_the_parents_main_script(tmp_path):
    """A parent whose __main__ is a script that fails when run (a Streamlit page after AppTest, or inside
    the dashboard server) still gets working spawn workers: they do not re-run that script."""
    from vision.workers import worker_pool
    script = tmp_path / "page.py"
    script.write_text("raise SystemExit('this page must not run in a worker')\n")
    fake = types.ModuleType("__main__"); fake.__file__ = str(script)
    real = sys.modules["__main__"]
    sys.modules["__main__"] = fake
    try:
        with worker_pool(2) as pool:
            assert sorted(pool.map(abs, [-1, -2, -3])) == [1, 2, 3]
    finally:
        sys.modules["__main__"] = real
