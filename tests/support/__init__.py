"""What the tests (and `make bench`) share: servers, fakes, model builders and the real command.

Imported as `tests.support.<module>`; conftest.py holds pytest fixtures only, and nothing imports it.
Keep this file free of imports: `make bench` loads these helpers, and whatever its runner imports
raises the peak RSS of every process it measures.
"""
