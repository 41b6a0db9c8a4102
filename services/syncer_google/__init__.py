"""Google syncer: keeps Google Customer Match lists equal to the desired membership."""
