-- closeloop schema 1, written by the closeloop that released it (tests/data/schema/make_dump.py)
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES('created_by','closeloop');
COMMIT;
PRAGMA user_version = 1;
