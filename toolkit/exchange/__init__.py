"""The Exchange side: LDIF, LDAP dialects, remote PowerShell."""
