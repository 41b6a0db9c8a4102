"""Meta syncer: keeps Meta custom audiences equal to the desired membership, by difference."""
