"""A private OpenLDAP slapd that looks like Active Directory: see server.py."""
