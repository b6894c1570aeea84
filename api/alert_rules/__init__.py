"""Alert rules over HTTP: every role reads the rules and their overrides; admins change them."""
