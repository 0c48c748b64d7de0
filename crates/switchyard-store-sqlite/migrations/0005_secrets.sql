-- Passwords are no longer kept: each account has a salt, the MSNP2-7 answer md5(salt + password)
-- and a verifier sha256(salt + md5(password)) (see switchyard_core::secrets). Rows written before
-- this migration are converted when the store opens, which then empties their `password`; the
-- column stays (SQLite cannot drop a NOT NULL column cheaply) and is always '' from now on.
ALTER TABLE accounts ADD COLUMN salt TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN md5_response TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN verifier BLOB NOT NULL DEFAULT x'';
