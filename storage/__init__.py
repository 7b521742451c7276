"""Database (sqlmodel), repositories, the encrypted vault and migrations.

Not built yet: the storage issue fills this package.
"""
