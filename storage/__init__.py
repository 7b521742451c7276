"""Database (sqlmodel), repositories, the encrypted vault, key rotation and migrations.

- `database.Database`: the engine; `write()` / `read()` transactions.
- repositories, one module per aggregate: `users`, `certificates`, `accounts`,
  `reminders`, `conversations`, `updates`, `audit`. Every lookup by id takes
  the owner too; a foreign id is `errors.NotFound`.
- `vault.Vault` over a `keyring` (file or environment); `rotation.rotate`.
- `migrate.upgrade`: the Alembic migrations in `storage/migrations`.
"""
