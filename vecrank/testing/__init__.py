"""Test helpers for vecrank: in-process stand-ins for the vector databases it talks to."""
