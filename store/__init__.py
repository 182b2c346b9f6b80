"""isobalance patient store: patients, sessions, findings, plans, holds and their files.

Stable API (the dashboard and the CLI rely on it)::

    from store import Store, save_assessment, save_hold

    store = Store.open(None, data_dir)        # SQLite in the data folder the caller gives (WAL, busy timeout)
    store = Store.open("postgresql://user@host/db", data_dir)   # same code on PostgreSQL
    store = isobalance.paths.open_store(load_config(), db_flag)   # the CLI's: --db, [store] database_url, ...
    pid = store.add_patient("A. B.")          # -> patient id (32 hex characters)
    sid = save_assessment(store, pid, report.to_dict(), {"track": track_csv, "video": mp4,
                                                         "report_html": html})   # -> session id
    sid = save_hold(store, pid, hold_result.to_dict(), "upper-trapezius-pir", {"hold_video": mp4})
    store.sessions(pid); store.session(sid); store.patients()
    store.delete_session(sid); store.delete_patient(pid)     # rows, files and the uploads they came from
    store.close()

Both save calls validate the document (an isobalance error with a plain message when it is not a
report / hold result), copy the files into ``<data>/patients/<patient>/<session>/`` with their sha256,
and either save everything or nothing, even when the process is killed half-way (store/files.py).
``store.progress`` gives the per-patient history; ``store.record`` exports and imports a whole record;
``store.uploads`` keeps the dashboard's uploads only as long as needed. Ids from outside are checked
and every path is built inside the data folder by ``store.paths``.
The schema is migrated (Alembic, store/migrations) whenever a store is opened.
"""

from store.errors import AmbiguousIdError, ConflictError, NotFoundError, RecordError, StoreError
from store.save import save_assessment, save_hold
from store.store import Store

__all__ = ["Store", "save_assessment", "save_hold", "StoreError", "NotFoundError", "AmbiguousIdError",
           "ConflictError", "RecordError"]
