"""isobalance patient store: patients, sessions, findings, plans, holds and their files.

Stable API (the dashboard and the CLI rely on it)::

    from store import Store, save_assessment, save_hold

    store = Store.open()                      # SQLite in the user data folder (WAL, busy timeout)
    store = Store.open("postgresql://user@host/db", data_dir=...)   # same code on PostgreSQL
    store = Store.from_config(load_config(), db_flag)   # --db, [store] database_url, $ISOBALANCE_DATABASE_URL, SQLite
    pid = store.add_patient("A. B.")          # -> patient id (32 hex characters)
    sid = save_assessment(store, pid, report.to_dict(), {"track": track_csv, "video": mp4,
                                                         "report_html": html})   # -> session id
    sid = save_hold(store, pid, hold_result.to_dict(), "upper-trapezius-pir", {"hold_video": mp4})
    store.sessions(pid); store.session(sid); store.patients()
    store.delete_session(sid); store.delete_patient(pid)     # rows and files
    store.close()

Both save calls validate the document (an isobalance error with a plain message when it is not a
report / hold result), copy the files into ``<data>/patients/<patient>/<session>/`` with their sha256,
and either save everything or nothing, even when the process is killed half-way (store/files.py).
``store.progress`` gives the per-patient history; ``store.record`` exports and imports a whole record.
The schema is migrated (Alembic, store/migrations) whenever a store is opened.
"""

from store.errors import AmbiguousIdError, ConflictError, NotFoundError, RecordError, StoreError
from store.save import save_assessment, save_hold
from store.store import Store

__all__ = ["Store", "save_assessment", "save_hold", "StoreError", "NotFoundError", "AmbiguousIdError",
           "ConflictError", "RecordError"]
