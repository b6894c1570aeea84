"""Domain services shared by the API, the jobs and the CLI: rules over repositories, never a commit.

The caller (an HTTP request, a job run, a CLI command) owns the transaction and commits.
"""
