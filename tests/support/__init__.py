"""Test support code shared by every test package (servers we run on 127.0.0.1)."""
