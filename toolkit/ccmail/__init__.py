"""The cc:Mail side: address grammar, directory files, the directory-layer interface."""
