"""A throwaway Samba AD DC for tests and demos (see server.py)."""
