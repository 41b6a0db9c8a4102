"""The scorer's adapters: SQL aggregation of facts, the label store, reads for reports."""
