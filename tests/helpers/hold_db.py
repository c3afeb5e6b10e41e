"""Hold a DuckDB file read-write for N seconds from a separate process (lock tests).

Usage: python -m tests.helpers.hold_db PATH SECONDS [--kill-mid-write]
Prints 'ready' once the lock is held. With --kill-mid-write it inserts a row inside an open
transaction, prints 'writing' and waits to be killed.
"""

from __future__ import annotations

import sys
import time

import duckdb


def main() -> None:
    path, seconds = sys.argv[1], float(sys.argv[2])
    con = duckdb.connect(path)
    if "--kill-mid-write" in sys.argv:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "INSERT INTO runs (command, started_at, status) VALUES ('half-written', now(), 'running')"
        )
        print("writing", flush=True)
        time.sleep(seconds)
        return
    print("ready", flush=True)
    time.sleep(seconds)
    con.close()


if __name__ == "__main__":
    main()
