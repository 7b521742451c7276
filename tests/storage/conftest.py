"""The storage suite uses the database fixtures of tests/conftest.py (SQLite and PostgreSQL).

PostgreSQL comes from CERTMATE_TEST_DATABASE_URL, else the local server
(127.0.0.1:5432, database `test`). Each test gets a database of its own,
created and dropped around it. When no server answers the PostgreSQL cases
are skipped with the reason shown, except under CI, where that fails the run.
"""

from tests.conftest import NOW

__all__ = ["NOW"]
