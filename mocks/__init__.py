"""Test doubles that behave like the real thing: cc:Mail directory (+ dirsync),
a private slapd, and a remote-PowerShell Exchange endpoint."""
