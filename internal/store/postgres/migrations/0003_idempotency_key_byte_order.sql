-- 0003_idempotency_key_byte_order: ListIdempotency pages through idempotency records by key
-- (key > $cursor ORDER BY key), which must follow byte order whatever the database's default
-- collation is, as token and deletion-request ids do (COLLATE "C"). The primary key index is
-- rebuilt with the new collation.

ALTER TABLE idempotency ALTER COLUMN key TYPE text COLLATE "C";
