-- 0007_credential_grant_mac: a keyed MAC over what a credential may do (issue 16), as the
-- SQLite store's 0006.
--
-- grant_mac is an HMAC, under the key file's blind-index key, of the credential's id, role,
-- owner restriction and secret hashes (current and previous, with the previous one's end).
-- The service checks it on every request, so someone who can write the database but has no
-- key file cannot raise a credential's role, lift its restriction, move a secret onto another
-- credential or stretch an overlap. Credentials written before this migration get '' and are
-- given their MAC (with an audit record) at the service's next start.
ALTER TABLE credentials ADD COLUMN grant_mac text NOT NULL DEFAULT '';
