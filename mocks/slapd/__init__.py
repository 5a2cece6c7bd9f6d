"""A private OpenLDAP slapd that looks like Active Directory (or Exchange 5.5).

One module a layer, each importing only the ones below it:
:mod:`.server` (cn=config, the service accounts, start and stop, the
``ldap-test-server`` CLI), :mod:`.loader` (the schema as slapd will know it
and the LDIF slapadd is given) and :mod:`.machine` (programs, a free port, a
throwaway PKI, a child process's lifetime: nothing of slapd's, so the Samba
DC uses them too). :class:`SlapdError` is here because all three raise it.
"""


class SlapdError(RuntimeError):
    """The test server could not be prepared, started or stopped (one line)."""
