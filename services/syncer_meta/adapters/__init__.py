"""The syncer's adapters: the Meta platform (facebook-business), a null platform, the ledger store."""
