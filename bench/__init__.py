"""`make bench` (`python -m bench.run`); a package so that it imports the tests' servers as `tests.support`."""
