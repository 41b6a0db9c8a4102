"""Benchmarks: each module's ``main()`` prints figures; nothing here asserts on speed."""
