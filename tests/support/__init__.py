"""The shared test library: builders of ledgers and records, loopback servers, fixtures several folders use.

A test imports what it needs from here (`tests.support.alerts`, `tests.support.billing`,
`tests.support.dashboard`, `tests.support.servers`), never from another folder's conftest.py;
a folder's conftest.py only makes the library's fixtures available to its tests.
"""
