-- 0005_credential_roles: scoped, rotatable management credentials (issue 16).
--
-- A credential's role stays in rights (a one-element set: admin, issuer, reader or
-- introspect; credentials written before keep ["admin"] or ["introspect"]). New columns:
--   * owner_index, owner_cipher: the owner an issuer or reader credential is restricted to,
--     as the keyed blind index tokens use and encrypted; '' and NULL for no restriction, which
--     is what every credential written before this migration gets;
--   * rotated_at, prev_secret_hash, prev_valid_until: after a rotation the previous secret
--     keeps working until prev_valid_until, checked at every request.
ALTER TABLE credentials ADD COLUMN owner_index TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN owner_cipher BLOB;
ALTER TABLE credentials ADD COLUMN rotated_at TEXT;
ALTER TABLE credentials ADD COLUMN prev_secret_hash BLOB;
ALTER TABLE credentials ADD COLUMN prev_valid_until TEXT;
CREATE UNIQUE INDEX credentials_prev_secret_hash ON credentials (prev_secret_hash) WHERE prev_secret_hash IS NOT NULL;
